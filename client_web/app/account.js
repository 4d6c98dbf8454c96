// Accounts: creating one from a freshly generated secret, signing in with the
// secret alone, signing out and deleting. The secret is turned into keys
// here and never kept: only the vault key and the bearer token stay in
// memory, inside the workspace.

import { SERVER_ID_BYTES } from "../lib/constants.js";
import { b64uDecode, b64uEncode } from "../lib/encoding.js";
import { MalformedError } from "../lib/errors.js";
import { generateIdentitySeed, identityFromSeed, wipeIdentity } from "../lib/keys.js";
import { createPrekeys } from "../lib/prekeys.js";
import { signRegistration } from "../lib/signatures.js";
import { sodium } from "../lib/sodium.js";
import { deriveAccountKeys, generateSecret } from "../lib/vault.js";
import { request } from "./api.js";
import { AccountError } from "./errors.js";
import { nowSeconds } from "./ids.js";
import { createVault, isConflict } from "./vaultstore.js";
import { openWorkspace } from "./workspace.js";

export { generateSecret };

// Key derivation blocks the page for a moment; letting it paint first keeps
// the "working" state visible.
function nextFrame() {
  return new Promise((resolve) => setTimeout(resolve, 30));
}

function deriveKeys(secretText) {
  try {
    return deriveAccountKeys(secretText);
  } catch (error) {
    if (error instanceof MalformedError) {
      throw new AccountError("bad_secret", "The text is not an account secret.");
    }
    throw error;
  }
}

async function logIn(handle, loginKey) {
  return request("POST", "/api/login", {
    body: { handle, login_key: b64uEncode(loginKey), kind: "browser" },
  });
}

// Creating an account is a sequence that can be resumed: if any step fails,
// calling `finish()` again continues from the step that failed, so the
// identity made on this device is never lost half-way. `discard()` erases
// the keys of an attempt that is given up.
export function beginAccount(info, secret, role, invite) {
  const progress = {
    account: null,
    token: null,
    vault: null,
    seed: null,
    keys: null,
    stored: false,
    uploaded: false,
    done: false,
  };

  async function finish(hooks) {
    await nextFrame();
    progress.keys ??= deriveKeys(secret);
    const { handle, vaultKey, loginKey } = progress.keys;
    progress.seed ??= generateIdentitySeed();
    const identity = identityFromSeed(progress.seed);
    try {
      if (!progress.account) {
        const serverId = b64uDecode(info.server_id, { length: SERVER_ID_BYTES });
        const body = {
          role,
          handle,
          login_key: b64uEncode(loginKey),
          identity_key: b64uEncode(identity.publicKey),
          sig: b64uEncode(signRegistration(identity, serverId, handle)),
        };
        if (invite) body.invite = invite;
        try {
          progress.account = (await request("POST", "/api/accounts", { body })).account;
        } catch (error) {
          // An earlier attempt may have been stored with its answer lost: if
          // these keys log in, the handle is ours.
          if (error.code !== "handle_taken") throw error;
          const session = await logIn(handle, loginKey).catch(() => null);
          if (!session) throw error;
          progress.account = session.account;
          progress.token = session.token;
        }
      }
      if (!progress.token) progress.token = (await logIn(handle, loginKey)).token;
      const token = progress.token;
      progress.vault ??= createVault({ token: () => token, vaultKey, request });
      const vault = progress.vault;
      if (!progress.stored) {
        // Made once: a retry must commit and publish exactly the same keys.
        progress.prekeys ??= createPrekeys(identity, nowSeconds());
        progress.writes ??= [
          vault.write(null, {
            kind: "identity",
            role,
            account: progress.account,
            handle,
            seed: b64uEncode(progress.seed),
          }),
          vault.write(null, progress.prekeys.item),
        ];
        try {
          await vault.commit(progress.writes);
        } catch (error) {
          // A conflict here means an earlier attempt was stored after all.
          if (!isConflict(error)) throw error;
          await vault.sync();
          if (!vault.find("identity")) throw error;
        }
        progress.stored = true;
      }
      if (!progress.uploaded) {
        await request("PUT", "/api/prekeys", { token, body: progress.prekeys.upload });
        progress.uploaded = true;
      }
      const workspace = openWorkspace({
        info,
        account: progress.account,
        token,
        vaultKey,
        vault,
        hooks,
      });
      progress.done = true;
      sodium.memzero(loginKey);
      sodium.memzero(progress.seed);
      return workspace;
    } finally {
      wipeIdentity(identity);
    }
  }

  function discard() {
    if (progress.done) return;
    progress.done = true;
    if (progress.keys) {
      sodium.memzero(progress.keys.vaultKey);
      sodium.memzero(progress.keys.loginKey);
    }
    if (progress.seed) sodium.memzero(progress.seed);
  }

  return { finish, discard };
}

// Asks the server whether an invite code is valid, without using it up, so a
// mistyped code is reported before an account secret is made for it.
export async function checkInvite(role, invite) {
  await request("POST", "/api/invites/check", { body: { role, invite } });
}

export async function signIn(info, secretText, hooks) {
  await nextFrame();
  const { handle, vaultKey, loginKey } = deriveKeys(secretText);
  try {
    const session = await logIn(handle, loginKey);
    return await openSession(info, session, vaultKey, hooks);
  } catch (error) {
    sodium.memzero(vaultKey);
    throw error;
  } finally {
    sodium.memzero(loginKey);
  }
}

// A workspace for a session already started (a login, or the new session a
// change of the secret hands over), its vault synced under `vaultKey`.
export async function openSession(info, { account, token }, vaultKey, hooks) {
  const vault = createVault({ token: () => token, vaultKey, request });
  await vault.sync();
  return openWorkspace({ info, account, token, vaultKey, vault, hooks });
}

export async function signOut(workspace) {
  await request("POST", "/api/logout", { token: workspace.token(), timeoutMs: 5000 }).catch(
    () => {},
  );
}

// Ends the sign-in on the server without waiting for the answer: for quick
// exit and a closing tab, which must not be delayed. The request is sent
// with keepalive, so it completes after the page has gone.
export function endSessionInBackground(workspace) {
  const token = workspace.token();
  if (!token) return;
  request("POST", "/api/logout", { token, timeoutMs: 5000, keepalive: true }).catch(() => {});
}

export async function deleteAccount(workspace) {
  await request("DELETE", "/api/account", { token: workspace.token() });
}
