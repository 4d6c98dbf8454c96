// PQXDH session set-up (PROTOCOL.md sections 3 and 4; Signal's PQXDH rev. 3).
//
// The initiator verifies the bundle completely before computing anything; the
// responder's side takes the private halves the caller looked up by id. Both
// sides wipe every DH output and the ephemeral private key once SK is made.

import {
  CTX_PQXDH_INFO,
  ED25519_PUBLIC_KEY_BYTES,
  ID_BYTES,
  MLKEM_CIPHERTEXT_BYTES,
  MLKEM_SHARED_SECRET_BYTES,
  PQXDH_F,
  PQXDH_SALT,
} from "./constants.js";
import { b64uDecode, concatBytes, hasExactly } from "./encoding.js";
import { MalformedError } from "./errors.js";
import { hkdf } from "./kdf.js";
import {
  dh,
  generateX25519,
  identityDhPublic,
  mlkemDecapsulate,
  mlkemEncapsulate,
} from "./keys.js";
import { PREKEY_KINDS, parsePrekey } from "./signatures.js";
import { sodium } from "./sodium.js";

const BUNDLE_FIELDS = ["account", "identity_key", "signed_prekey", "pq_prekey", "one_time_prekey"];

// A bundle as the server sends it (JSON), verified: identity key, and every
// signature. Returns {account, identityKey, signedPrekey, pqPrekey, oneTimePrekey}
// with each prekey as {id, key} and `oneTimePrekey` null when none was left.
export function parseBundle(json) {
  if (!hasExactly(json, BUNDLE_FIELDS)) {
    throw new MalformedError("A bundle has exactly the fields of PROTOCOL.md section 3.");
  }
  const account = b64uDecode(json.account, { length: ID_BYTES });
  const identityKey = b64uDecode(json.identity_key, { length: ED25519_PUBLIC_KEY_BYTES });
  identityDhPublic(identityKey);
  return {
    account,
    identityKey,
    signedPrekey: parsePrekey(identityKey, PREKEY_KINDS.signed, json.signed_prekey),
    pqPrekey: parsePrekey(identityKey, PREKEY_KINDS.pq, json.pq_prekey),
    oneTimePrekey:
      json.one_time_prekey === null
        ? null
        : parsePrekey(identityKey, PREKEY_KINDS.oneTime, json.one_time_prekey),
  };
}

function sharedSecret(dhOutputs, kemSecret) {
  const ikm = concatBytes(PQXDH_F, ...dhOutputs, kemSecret);
  const secret = hkdf(ikm, PQXDH_SALT, CTX_PQXDH_INFO, 32);
  sodium.memzero(ikm);
  for (const output of dhOutputs) sodium.memzero(output);
  return secret;
}

// Alice's side. `ephemeral` and `encapsulate` are fresh unless a test vector
// fixes them. Returns {sharedKey, ad, ephemeralKey, kemCiphertext, spkId,
// opkId, pqId, remoteRatchetKey}; the ephemeral private key is wiped.
export function initiate(identity, bundle, { ephemeral, encapsulate } = {}) {
  const pair = ephemeral ?? generateX25519();
  const remoteDh = identityDhPublic(bundle.identityKey);
  const outputs = [
    dh(identity.dhPrivate, bundle.signedPrekey.key),
    dh(pair.privateKey, remoteDh),
    dh(pair.privateKey, bundle.signedPrekey.key),
  ];
  if (bundle.oneTimePrekey !== null) {
    outputs.push(dh(pair.privateKey, bundle.oneTimePrekey.key));
  }
  const kem = (encapsulate ?? mlkemEncapsulate)(bundle.pqPrekey.key);
  if (
    kem.ciphertext?.length !== MLKEM_CIPHERTEXT_BYTES ||
    kem.sharedSecret?.length !== MLKEM_SHARED_SECRET_BYTES
  ) {
    throw new MalformedError("An ML-KEM encapsulation has the wrong size.");
  }
  const sharedKey = sharedSecret(outputs, kem.sharedSecret);
  sodium.memzero(kem.sharedSecret);
  sodium.memzero(pair.privateKey);
  return {
    sharedKey,
    ad: concatBytes(identity.publicKey, bundle.identityKey),
    ephemeralKey: pair.publicKey,
    kemCiphertext: kem.ciphertext,
    spkId: bundle.signedPrekey.id,
    opkId: bundle.oneTimePrekey === null ? 0 : bundle.oneTimePrekey.id,
    pqId: bundle.pqPrekey.id,
    remoteRatchetKey: bundle.signedPrekey.key,
  };
}

// Bob's side, from a decoded prekey envelope's fields and the private halves
// named by its ids: `signedPrekey` {privateKey, publicKey}, `oneTimePrivate`
// (null when opk_id is 0), `pqPrivate` (expanded ML-KEM private key).
// Returns {sharedKey, ad}.
export function respond(identity, prekey, { signedPrekey, oneTimePrivate, pqPrivate }) {
  const remoteDh = identityDhPublic(prekey.identityKey);
  const outputs = [
    dh(signedPrekey.privateKey, remoteDh),
    dh(identity.dhPrivate, prekey.ephemeralKey),
    dh(signedPrekey.privateKey, prekey.ephemeralKey),
  ];
  if (oneTimePrivate !== null) {
    outputs.push(dh(oneTimePrivate, prekey.ephemeralKey));
  }
  const kemSecret = mlkemDecapsulate(pqPrivate, prekey.kemCiphertext);
  const sharedKey = sharedSecret(outputs, kemSecret);
  sodium.memzero(kemSecret);
  return { sharedKey, ad: concatBytes(prekey.identityKey, identity.publicKey) };
}
