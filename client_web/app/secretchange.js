// Changing the account secret (PROTOCOL.md section 9.1): the twin of
// client_py/secretchange.py.
//
// The new secret's keys are derived here; every live vault item is fetched
// as the server stores it, re-encrypted under the new vault key for its next
// version (the identity item with the new handle) and staged; the server
// then switches the vault, the handle and the login key in one transaction.
// Until that commit the old secret opens everything, after it the new one
// does. An interrupted change is finished by running it again with the same
// new secret (the server keeps what was staged), or cancelled.
//
// `beforeSwitch` runs just before the commit: the page closes its websocket
// there, since the switch ends this device's token and the connection with
// it. `afterRefusal` runs if the commit did not happen, to reconnect.

import { b64uDecode, b64uEncode } from "../lib/encoding.js";
import { MalformedError } from "../lib/errors.js";
import { sodium } from "../lib/sodium.js";
import {
  decryptItem,
  deriveAccountKeys,
  encryptItem,
  normaliseSecret,
  rekeyItem,
} from "../lib/vault.js";
import { request } from "./api.js";
import { AccountError } from "./errors.js";
import { idBytes } from "./ids.js";

// Each refusal means another device wrote while this one staged.
const COMMIT_ATTEMPTS = 5;
const MAX_SYNC_PAGES = 1000;
const PATH = "/api/secret-change";

export async function secretChangePending(token) {
  const answer = await request("GET", PATH, { token });
  return answer.pending === true;
}

export async function cancelSecretChange(token) {
  await request("DELETE", PATH, { token });
}

function keysOf(secretText) {
  try {
    return deriveAccountKeys(secretText);
  } catch (error) {
    if (error instanceof MalformedError) {
      throw new AccountError("bad_secret", "The text is not an account secret.");
    }
    throw error;
  }
}

// Catches a mistyped current secret before a new one is shown: it must
// parse and carry this account's handle (the passphrase is checked by the
// server when the change starts).
export function checkCurrentSecret(vault, secretText) {
  let handle;
  try {
    handle = normaliseSecret(secretText).handle;
  } catch (error) {
    if (error instanceof MalformedError) {
      throw new AccountError("bad_secret", "The text is not an account secret.");
    }
    throw error;
  }
  if (handle !== vault.find("identity")?.data.handle) {
    throw new AccountError("not_current", "That is not this account's current secret.");
  }
}

// Every item of the vault exactly as the server stores it, by id.
async function storedItems(token) {
  const items = new Map();
  let cursor = null;
  for (let page = 0; page < MAX_SYNC_PAGES; page += 1) {
    const query = cursor === null ? "" : `?since=${encodeURIComponent(cursor)}`;
    const answer = await request("GET", `/api/vault${query}`, { token });
    for (const item of Array.isArray(answer.items) ? answer.items : []) items.set(item.id, item);
    cursor = String(answer.cursor);
    if (answer.more !== true) break;
  }
  return items;
}

function staged(oldKeys, newKeys, { id, version, blob }) {
  const raw = b64uDecode(blob);
  const itemId = idBytes(id);
  const item = decryptItem(oldKeys.vaultKey, itemId, version, raw);
  const sealed =
    item.kind === "identity"
      ? encryptItem(newKeys.vaultKey, itemId, version + 1, { ...item, handle: newKeys.handle })
      : rekeyItem(oldKeys.vaultKey, newKeys.vaultKey, itemId, version, raw);
  return { id, base: version, blob: b64uEncode(sealed) };
}

async function stageMissing(token, oldKeys, newKeys, done, batchSize, onProgress) {
  const items = await storedItems(token);
  const missing = [];
  for (const item of items.values()) {
    if (typeof item.blob === "string" && done.get(item.id) !== item.version) {
      missing.push(staged(oldKeys, newKeys, item));
    }
  }
  for (let start = 0; start < missing.length; start += batchSize) {
    const chunk = missing.slice(start, start + batchSize);
    await request("POST", `${PATH}/items`, { token, body: { items: chunk } });
    for (const entry of chunk) done.set(entry.id, entry.base);
    onProgress(Math.min(start + batchSize, missing.length), missing.length);
  }
}

// Switches the account to `newText`; `currentText` is the secret it has now.
// With `finish`, the server refuses unless `newText` is the secret of the
// change that waits, so a mistyped one is never switched to.
// Returns {token, expires, signedOut, vaultKey, handle} for the new session;
// the caller owns (and wipes) the new vault key.
export async function changeSecret(
  { token, info, currentText, newText, finish = false },
  { beforeSwitch = () => {}, afterRefusal = () => {}, onProgress = () => {} } = {},
) {
  const oldKeys = keysOf(currentText);
  let newKeys = null;
  let handedOver = false;
  try {
    newKeys = keysOf(newText);
    const started = await request("POST", PATH, {
      token,
      body: {
        login_key: b64uEncode(oldKeys.loginKey),
        handle: newKeys.handle,
        new_login_key: b64uEncode(newKeys.loginKey),
        resume: finish,
      },
    });
    const done = new Map(
      (Array.isArray(started.staged) ? started.staged : []).map((entry) => [entry.id, entry.base]),
    );
    const batchSize = info.limits?.max_vault_writes ?? 64;
    for (let attempt = 1; ; attempt += 1) {
      await stageMissing(token, oldKeys, newKeys, done, batchSize, onProgress);
      beforeSwitch();
      try {
        const answer = await request("POST", `${PATH}/commit`, {
          token,
          body: { login_key: b64uEncode(oldKeys.loginKey) },
        });
        const result = {
          token: answer.token,
          expires: answer.expires,
          signedOut: Number.isSafeInteger(answer.signed_out) ? answer.signed_out : 0,
          vaultKey: newKeys.vaultKey,
          handle: newKeys.handle,
        };
        handedOver = true;
        return result;
      } catch (error) {
        afterRefusal();
        if (error.code !== "secret_change_incomplete" || attempt === COMMIT_ATTEMPTS) throw error;
      }
    }
  } finally {
    sodium.memzero(oldKeys.vaultKey);
    sodium.memzero(oldKeys.loginKey);
    if (newKeys) {
      sodium.memzero(newKeys.loginKey);
      if (!handedOver) sodium.memzero(newKeys.vaultKey);
    }
  }
}
