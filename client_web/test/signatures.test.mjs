// Signing and verifying the protocol's messages with a fresh identity.
import assert from "node:assert/strict";
import test from "node:test";

import { utf8Encode } from "../lib/encoding.js";
import { MalformedError } from "../lib/errors.js";
import {
  generateIdentitySeed,
  generateX25519,
  identityFromSeed,
  wipeIdentity,
} from "../lib/keys.js";
import {
  PREKEY_KINDS,
  parsePrekey,
  registrationMessage,
  signPrekey,
  signProfile,
  signRegistration,
  signWebsocketAuth,
  verify,
  verifyProfile,
  websocketAuthMessage,
} from "../lib/signatures.js";
import { loadSodium } from "../lib/sodium.js";

const sodium = await loadSodium();
const identity = identityFromSeed(generateIdentitySeed());
const other = identityFromSeed(generateIdentitySeed());

test("a signed prekey verifies for its kind and owner only", () => {
  const key = generateX25519().publicKey;
  const json = signPrekey(identity, PREKEY_KINDS.signed, 42, key);
  assert.deepEqual(parsePrekey(identity.publicKey, PREKEY_KINDS.signed, json), { id: 42, key });
  assert.throws(() => parsePrekey(identity.publicKey, PREKEY_KINDS.oneTime, json), MalformedError);
  assert.throws(() => parsePrekey(other.publicKey, PREKEY_KINDS.signed, json), MalformedError);
  assert.throws(
    () => parsePrekey(identity.publicKey, PREKEY_KINDS.signed, { ...json, id: 43 }),
    MalformedError,
  );
  assert.throws(
    () => parsePrekey(identity.publicKey, PREKEY_KINDS.signed, { ...json, x: 1 }),
    MalformedError,
  );
  assert.throws(() => signPrekey(identity, PREKEY_KINDS.signed, 0, key), MalformedError);
  assert.throws(() => signPrekey(identity, PREKEY_KINDS.signed, 2 ** 32, key), MalformedError);
});

test("registration, websocket and profile signatures bind their fields", () => {
  const serverId = sodium.randombytes_buf(16);
  const nonce = sodium.randombytes_buf(32);
  const account = sodium.randombytes_buf(16);
  verify(
    identity.publicKey,
    registrationMessage(serverId, "7K3QXM2D"),
    signRegistration(identity, serverId, "7K3QXM2D"),
  );
  assert.throws(
    () =>
      verify(
        identity.publicKey,
        registrationMessage(serverId, "7K3QXM2E"),
        signRegistration(identity, serverId, "7K3QXM2D"),
      ),
    MalformedError,
  );
  assert.throws(() => registrationMessage(serverId, "7K3QXM2U"), MalformedError);
  const sig = signWebsocketAuth(identity, serverId, nonce, account);
  verify(identity.publicKey, websocketAuthMessage(serverId, nonce, account), sig);
  assert.throws(
    () =>
      verify(
        identity.publicKey,
        websocketAuthMessage(serverId, sodium.randombytes_buf(32), account),
        sig,
      ),
    MalformedError,
  );
  const profile = utf8Encode('{"display_name":"Dr. R"}');
  verifyProfile(identity.publicKey, profile, signProfile(identity, profile));
  assert.throws(
    () => verifyProfile(identity.publicKey, utf8Encode("{}"), signProfile(identity, profile)),
    MalformedError,
  );
});

test("wiping an identity zeroes its private fields", () => {
  const doomed = identityFromSeed(generateIdentitySeed());
  wipeIdentity(doomed);
  for (const field of ["seed", "signingKey", "dhPrivate"]) {
    assert.ok(sodium.is_zero(doomed[field]), field);
  }
});
