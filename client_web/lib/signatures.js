// Ed25519 signatures over the domain-separated messages of PROTOCOL.md
// sections 3, 9, 11 and 12 (and the therapist profile of docs/API.md).
//
// Every signed message starts with its own domain string followed by
// fixed-length fields (the profile: the rest of the message), so a signature
// made for one purpose can never be taken for another.
//
// Exported API (synchronous, after `await loadSodium()`; bytes are Uint8Array):
//   PREKEY_KINDS = {signed: 'signed', pq: 'pq', oneTime: 'one_time'}
//   sign(identity, message) -> Uint8Array(64)
//   verify(publicKey, message, signature) -> undefined; MalformedError if invalid
//   isPrekeyId(id) -> boolean   an integer in 1..2^32-1
//   prekeyMessage(kind, id, key) -> Uint8Array
//   signPrekey(identity, kind, id, key) -> {id, key: b64u, sig: b64u}   (JSON form)
//   parsePrekey(identityKey, kind, json) -> {id, key}   checks shape and signature;
//       MalformedError otherwise
//   registrationMessage(serverId, handle) -> Uint8Array   (`handle`: 8 normalised symbols)
//   signRegistration(identity, serverId, handle) -> Uint8Array(64)
//   websocketAuthMessage(serverId, nonce, accountId) -> Uint8Array
//   signWebsocketAuth(identity, serverId, nonce, accountId) -> Uint8Array(64)
//   profileMessage(profileBytes) -> Uint8Array
//   signProfile(identity, profileBytes) -> Uint8Array(64)
//   verifyProfile(identityKey, profileBytes, signature) -> undefined; MalformedError
//   groupListingMessage(listingBytes) -> Uint8Array
//   signGroupListing(identity, listingBytes) -> Uint8Array(64)
//   verifyGroupListing(identityKey, listingBytes, signature) -> undefined; MalformedError

import {
  CROCKFORD_ALPHABET,
  CTX_GROUP_LISTING,
  CTX_ONE_TIME_PREKEY,
  CTX_PQ_PREKEY,
  CTX_PROFILE,
  CTX_REGISTER,
  CTX_SIGNED_PREKEY,
  CTX_WEBSOCKET_AUTH,
  HANDLE_SYMBOLS,
  ID_BYTES,
  MLKEM_PUBLIC_KEY_BYTES,
  PREKEY_ID_MAX,
  SERVER_ID_BYTES,
  SIGNATURE_BYTES,
  WS_NONCE_BYTES,
  X25519_KEY_BYTES,
} from "./constants.js";
import { b64uDecode, b64uEncode, concatBytes, hasExactly, u32, utf8Encode } from "./encoding.js";
import { MalformedError } from "./errors.js";
import { identityDhPublic } from "./keys.js";
import { sodium } from "./sodium.js";

export const PREKEY_KINDS = Object.freeze({ signed: "signed", pq: "pq", oneTime: "one_time" });

const PREKEY_LAYOUT = {
  signed: { context: CTX_SIGNED_PREKEY, keyBytes: X25519_KEY_BYTES, name: "signed prekey" },
  pq: { context: CTX_PQ_PREKEY, keyBytes: MLKEM_PUBLIC_KEY_BYTES, name: "pq prekey" },
  one_time: { context: CTX_ONE_TIME_PREKEY, keyBytes: X25519_KEY_BYTES, name: "one-time prekey" },
};

const PREKEY_FIELDS = ["id", "key", "sig"];

function requireBytes(value, length, what) {
  if (!(value instanceof Uint8Array) || value.length !== length) {
    throw new MalformedError(`The ${what} must be ${length} bytes.`);
  }
}

function layoutOf(kind) {
  const layout = PREKEY_LAYOUT[kind];
  if (layout === undefined) {
    throw new TypeError(`Unknown prekey kind: ${kind}.`);
  }
  return layout;
}

export function sign(identity, message) {
  return sodium.crypto_sign_detached(message, identity.signingKey);
}

export function verify(publicKey, message, signature) {
  identityDhPublic(publicKey);
  requireBytes(signature, SIGNATURE_BYTES, "signature");
  if (!sodium.crypto_sign_verify_detached(signature, message, publicKey)) {
    throw new MalformedError("The signature does not verify.");
  }
}

export function isPrekeyId(id) {
  return Number.isInteger(id) && id >= 1 && id <= PREKEY_ID_MAX;
}

export function prekeyMessage(kind, id, key) {
  const layout = layoutOf(kind);
  if (!isPrekeyId(id)) {
    throw new MalformedError(`A ${layout.name} id must be an integer in 1..${PREKEY_ID_MAX}.`);
  }
  requireBytes(key, layout.keyBytes, layout.name);
  return concatBytes(layout.context, u32(id), key);
}

export function signPrekey(identity, kind, id, key) {
  const signature = sign(identity, prekeyMessage(kind, id, key));
  return { id, key: b64uEncode(key), sig: b64uEncode(signature) };
}

export function parsePrekey(identityKey, kind, json) {
  const layout = layoutOf(kind);
  if (!hasExactly(json, PREKEY_FIELDS)) {
    throw new MalformedError(`The ${layout.name} must be an object {id, key, sig}.`);
  }
  const key = b64uDecode(json.key, { length: layout.keyBytes });
  const signature = b64uDecode(json.sig, { length: SIGNATURE_BYTES });
  verify(identityKey, prekeyMessage(kind, json.id, key), signature);
  return { id: json.id, key };
}

export function registrationMessage(serverId, handle) {
  requireBytes(serverId, SERVER_ID_BYTES, "server id");
  if (
    typeof handle !== "string" ||
    handle.length !== HANDLE_SYMBOLS ||
    ![...handle].every((symbol) => CROCKFORD_ALPHABET.includes(symbol))
  ) {
    throw new MalformedError(`The handle must be ${HANDLE_SYMBOLS} normalised symbols.`);
  }
  return concatBytes(CTX_REGISTER, serverId, utf8Encode(handle));
}

export function signRegistration(identity, serverId, handle) {
  return sign(identity, registrationMessage(serverId, handle));
}

export function websocketAuthMessage(serverId, nonce, accountId) {
  requireBytes(serverId, SERVER_ID_BYTES, "server id");
  requireBytes(nonce, WS_NONCE_BYTES, "challenge nonce");
  requireBytes(accountId, ID_BYTES, "account id");
  return concatBytes(CTX_WEBSOCKET_AUTH, serverId, nonce, accountId);
}

export function signWebsocketAuth(identity, serverId, nonce, accountId) {
  return sign(identity, websocketAuthMessage(serverId, nonce, accountId));
}

export function profileMessage(profileBytes) {
  if (!(profileBytes instanceof Uint8Array)) {
    throw new MalformedError("The profile must be bytes.");
  }
  return concatBytes(CTX_PROFILE, profileBytes);
}

export function signProfile(identity, profileBytes) {
  return sign(identity, profileMessage(profileBytes));
}

export function verifyProfile(identityKey, profileBytes, signature) {
  verify(identityKey, profileMessage(profileBytes), signature);
}

export function groupListingMessage(listingBytes) {
  if (!(listingBytes instanceof Uint8Array)) {
    throw new MalformedError("The group listing must be bytes.");
  }
  return concatBytes(CTX_GROUP_LISTING, listingBytes);
}

export function signGroupListing(identity, listingBytes) {
  return sign(identity, groupListingMessage(listingBytes));
}

export function verifyGroupListing(identityKey, listingBytes, signature) {
  verify(identityKey, groupListingMessage(listingBytes), signature);
}
