// Signal's Double Ratchet (revision 4, section 3) as PROTOCOL.md section 5
// instantiates it, with the session state encoding of section 5.7.
//
// Functions never change the state they are given: encryption and decryption
// work on a copy and return it, so a message that fails for any reason leaves
// the caller's state exactly as it was, and the caller commits the new state
// together with the message it belongs to.

import {
  AD_BYTES,
  HEADER_BYTES,
  MAX_PREVIOUS_RATCHET_KEYS,
  MAX_SKIP,
  MAX_SKIPPED_KEYS,
  MLKEM_CIPHERTEXT_BYTES,
  SESSION_STATE_VERSION,
  X25519_KEY_BYTES,
} from "./constants.js";
import { bytesEqual, concatBytes, hexEncode, Reader, u8, u16, u32 } from "./encoding.js";
import {
  MalformedError,
  ReplayedError,
  TamperedError,
  TooFarSkippedError,
  UnsupportedVersionError,
} from "./errors.js";
import { kdfCk, kdfRk, messageKeys } from "./kdf.js";
import { dh, generateX25519 } from "./keys.js";
import { sodium } from "./sodium.js";

const KEY_BYTES = 32;
const FLAG_DHR = 0x01;
const FLAG_CKS = 0x02;
const FLAG_CKR = 0x04;
const FLAG_PENDING = 0x08;
const KNOWN_FLAGS = FLAG_DHR | FLAG_CKS | FLAG_CKR | FLAG_PENDING;
const ZERO_KEY = new Uint8Array(KEY_BYTES);

function withMessageCipher(messageKey, operate) {
  const { key, nonce } = messageKeys(messageKey);
  try {
    return operate(key, nonce);
  } finally {
    sodium.memzero(key);
  }
}

function encryptMessage(messageKey, plaintext, associatedData) {
  return withMessageCipher(messageKey, (key, nonce) =>
    sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, associatedData, null, nonce, key),
  );
}

function decryptMessage(messageKey, ciphertext, associatedData) {
  return withMessageCipher(messageKey, (key, nonce) => {
    try {
      return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
        null,
        ciphertext,
        associatedData,
        nonce,
        key,
      );
    } catch {
      throw new TamperedError();
    }
  });
}

export function encodeHeader({ dh: ratchetKey, pn, n }) {
  return concatBytes(ratchetKey, u32(pn), u32(n));
}

export function decodeHeader(bytes) {
  if (!(bytes instanceof Uint8Array) || bytes.length !== HEADER_BYTES) {
    throw new MalformedError(`A ratchet header is ${HEADER_BYTES} bytes.`);
  }
  const reader = new Reader(bytes, "ratchet header");
  return { dh: reader.take(X25519_KEY_BYTES), pn: reader.u32(), n: reader.u32() };
}

function skippedId(ratchetKey, n) {
  return `${hexEncode(ratchetKey)}:${n}`;
}

function copyKey(key) {
  return key === null ? null : key.slice();
}

// Fixed fields are copied so that wiping a replaced key in the copy never
// touches the original; stored skipped keys are never written, only removed,
// so their entries are shared.
function copyState(state) {
  return {
    dhs: { privateKey: state.dhs.privateKey.slice(), publicKey: state.dhs.publicKey.slice() },
    dhr: copyKey(state.dhr),
    rk: state.rk.slice(),
    cks: copyKey(state.cks),
    ckr: copyKey(state.ckr),
    ns: state.ns,
    nr: state.nr,
    pn: state.pn,
    ad: state.ad.slice(),
    ek: state.ek.slice(),
    pending: state.pending === null ? null : { ...state.pending },
    skipped: new Map(state.skipped),
    previous: state.previous.map((key) => key.slice()),
  };
}

function emptyState({ ad, ek, pending }) {
  if (!(ad instanceof Uint8Array) || ad.length !== AD_BYTES) {
    throw new MalformedError(`The associated data is ${AD_BYTES} bytes.`);
  }
  if (!(ek instanceof Uint8Array) || ek.length !== X25519_KEY_BYTES) {
    throw new MalformedError(`The ephemeral key is ${X25519_KEY_BYTES} bytes.`);
  }
  return {
    dhs: null,
    dhr: null,
    rk: null,
    cks: null,
    ckr: null,
    ns: 0,
    nr: 0,
    pn: 0,
    ad: ad.slice(),
    ek: ek.slice(),
    pending: pending ?? null,
    skipped: new Map(),
    previous: [],
  };
}

// Alice: `ratchetPair` is fresh unless a test vector fixes it.
export function initSender({ sharedKey, remoteRatchetKey, ad, ek, pending, ratchetPair }) {
  const state = emptyState({ ad, ek, pending });
  state.dhs = ratchetPair ?? generateX25519();
  state.dhr = remoteRatchetKey.slice();
  const dhOutput = dh(state.dhs.privateKey, state.dhr);
  [state.rk, state.cks] = kdfRk(sharedKey, dhOutput);
  sodium.memzero(dhOutput);
  return state;
}

// Bob: his signed prekey pair is the first ratchet pair.
export function initReceiver({ sharedKey, signedPrekeyPair, ad, ek }) {
  const state = emptyState({ ad, ek, pending: null });
  state.dhs = {
    privateKey: signedPrekeyPair.privateKey.slice(),
    publicKey: signedPrekeyPair.publicKey.slice(),
  };
  state.rk = sharedKey.slice();
  return state;
}

export function ratchetEncrypt(state, plaintext) {
  if (state.cks === null) {
    throw new MalformedError("This session has no sending chain until a message is received.");
  }
  const next = copyState(state);
  const [chainKey, messageKey] = kdfCk(next.cks);
  sodium.memzero(next.cks);
  next.cks = chainKey;
  const header = encodeHeader({ dh: next.dhs.publicKey, pn: next.pn, n: next.ns });
  next.ns += 1;
  const ciphertext = encryptMessage(messageKey, plaintext, concatBytes(next.ad, header));
  sodium.memzero(messageKey);
  return { state: next, header, ciphertext };
}

function storeSkipped(state, ratchetKey, n, messageKey) {
  // Evict oldest first, so the store never holds more than the limit.
  while (state.skipped.size >= MAX_SKIPPED_KEYS) {
    state.skipped.delete(state.skipped.keys().next().value);
  }
  state.skipped.set(skippedId(ratchetKey, n), { dh: ratchetKey, n, mk: messageKey });
}

function skipMessageKeys(state, until) {
  if (state.nr + MAX_SKIP < until) {
    throw new TooFarSkippedError();
  }
  if (state.ckr !== null) {
    while (state.nr < until) {
      const [chainKey, messageKey] = kdfCk(state.ckr);
      sodium.memzero(state.ckr);
      state.ckr = chainKey;
      storeSkipped(state, state.dhr, state.nr, messageKey);
      state.nr += 1;
    }
  }
}

function dhRatchet(state, header, generateDh) {
  state.pn = state.ns;
  state.ns = 0;
  state.nr = 0;
  if (state.dhr !== null) {
    state.previous.push(state.dhr);
    state.previous.splice(0, Math.max(0, state.previous.length - MAX_PREVIOUS_RATCHET_KEYS));
  }
  state.dhr = header.dh.slice();
  const receiveOutput = dh(state.dhs.privateKey, state.dhr);
  const oldRoot = state.rk;
  [state.rk, state.ckr] = kdfRk(oldRoot, receiveOutput);
  sodium.memzero(oldRoot);
  sodium.memzero(receiveOutput);
  sodium.memzero(state.dhs.privateKey);
  state.dhs = generateDh();
  const sendOutput = dh(state.dhs.privateKey, state.dhr);
  const midRoot = state.rk;
  [state.rk, state.cks] = kdfRk(midRoot, sendOutput);
  sodium.memzero(midRoot);
  sodium.memzero(sendOutput);
}

function isCurrentChainReplay(state, header) {
  return state.dhr !== null && bytesEqual(header.dh, state.dhr) && header.n < state.nr;
}

// `generateDh` is fresh key generation unless a test vector fixes it.
export function ratchetDecrypt(state, headerBytes, ciphertext, { generateDh } = {}) {
  const header = decodeHeader(headerBytes);
  const next = copyState(state);
  const associatedData = concatBytes(next.ad, headerBytes);
  const id = skippedId(header.dh, header.n);
  const stored = next.skipped.get(id);
  let plaintext;
  if (stored !== undefined) {
    next.skipped.delete(id);
    plaintext = decryptMessage(stored.mk, ciphertext, associatedData);
  } else {
    if (
      isCurrentChainReplay(next, header) ||
      next.previous.some((key) => bytesEqual(key, header.dh))
    ) {
      throw new ReplayedError();
    }
    if (next.dhr === null || !bytesEqual(header.dh, next.dhr)) {
      skipMessageKeys(next, header.pn);
      dhRatchet(next, header, generateDh ?? generateX25519);
    } else if (next.ckr === null) {
      // Only the responder's signed prekey is ever DHr without a receiving
      // chain, and no honest message is sent under a prekey.
      throw new TamperedError();
    }
    skipMessageKeys(next, header.n);
    const [chainKey, messageKey] = kdfCk(next.ckr);
    sodium.memzero(next.ckr);
    next.ckr = chainKey;
    next.nr += 1;
    try {
      plaintext = decryptMessage(messageKey, ciphertext, associatedData);
    } finally {
      sodium.memzero(messageKey);
    }
  }
  // The peer has answered, so it holds the session: prekey headers can stop.
  next.pending = null;
  return { state: next, plaintext };
}

export function encodeState(state) {
  if (state.skipped.size > MAX_SKIPPED_KEYS || state.previous.length > MAX_PREVIOUS_RATCHET_KEYS) {
    throw new MalformedError("The session holds more keys than the protocol allows.");
  }
  const flags =
    (state.dhr !== null ? FLAG_DHR : 0) |
    (state.cks !== null ? FLAG_CKS : 0) |
    (state.ckr !== null ? FLAG_CKR : 0) |
    (state.pending !== null ? FLAG_PENDING : 0);
  const parts = [
    u8(SESSION_STATE_VERSION),
    state.dhs.privateKey,
    state.dhs.publicKey,
    u8(flags),
    state.dhr ?? ZERO_KEY,
    state.rk,
    state.cks ?? ZERO_KEY,
    state.ckr ?? ZERO_KEY,
    u32(state.ns),
    u32(state.nr),
    u32(state.pn),
    state.ad,
    state.ek,
  ];
  if (state.pending !== null) {
    const { spkId, opkId, pqId, kemCiphertext } = state.pending;
    parts.push(u32(spkId), u32(opkId), u32(pqId), kemCiphertext);
  }
  parts.push(u16(state.skipped.size));
  for (const { dh: ratchetKey, n, mk } of state.skipped.values()) {
    parts.push(ratchetKey, u32(n), mk);
  }
  parts.push(u8(state.previous.length), ...state.previous);
  return concatBytes(...parts);
}

export function decodeState(bytes) {
  const reader = new Reader(bytes, "session state");
  const version = reader.u8();
  if (version !== SESSION_STATE_VERSION) {
    throw new UnsupportedVersionError(`Session state version ${version} is not known here.`);
  }
  const dhs = { privateKey: reader.take(KEY_BYTES), publicKey: reader.take(KEY_BYTES) };
  const flags = reader.u8();
  if ((flags & ~KNOWN_FLAGS) !== 0) {
    throw new MalformedError("The session state has unknown flags.");
  }
  // Canonical: an absent key is zero bytes, so a state has a single encoding.
  const optional = (flag, what) => {
    const key = reader.take(KEY_BYTES);
    if ((flags & flag) !== 0) {
      return key;
    }
    if (!sodium.is_zero(key)) {
      throw new MalformedError(`An absent ${what} must be encoded as zero bytes.`);
    }
    return null;
  };
  const dhr = optional(FLAG_DHR, "DHr");
  const rk = reader.take(KEY_BYTES);
  const cks = optional(FLAG_CKS, "sending chain key");
  const ckr = optional(FLAG_CKR, "receiving chain key");
  const state = {
    dhs,
    dhr,
    rk,
    cks,
    ckr,
    ns: reader.u32(),
    nr: reader.u32(),
    pn: reader.u32(),
    ad: reader.take(AD_BYTES),
    ek: reader.take(X25519_KEY_BYTES),
    pending: null,
    skipped: new Map(),
    previous: [],
  };
  if ((flags & FLAG_PENDING) !== 0) {
    state.pending = {
      spkId: reader.u32(),
      opkId: reader.u32(),
      pqId: reader.u32(),
      kemCiphertext: reader.take(MLKEM_CIPHERTEXT_BYTES),
    };
    if (state.pending.spkId === 0 || state.pending.pqId === 0) {
      throw new MalformedError("The pending prekey ids must be non-zero.");
    }
  }
  const skippedCount = reader.u16();
  if (skippedCount > MAX_SKIPPED_KEYS) {
    throw new MalformedError(`A session stores at most ${MAX_SKIPPED_KEYS} skipped keys.`);
  }
  for (let i = 0; i < skippedCount; i += 1) {
    const ratchetKey = reader.take(X25519_KEY_BYTES);
    const n = reader.u32();
    const id = skippedId(ratchetKey, n);
    if (state.skipped.has(id)) {
      throw new MalformedError("The session state stores one skipped key twice.");
    }
    state.skipped.set(id, { dh: ratchetKey, n, mk: reader.take(KEY_BYTES) });
  }
  const previousCount = reader.u8();
  if (previousCount > MAX_PREVIOUS_RATCHET_KEYS) {
    throw new MalformedError(
      `A session remembers at most ${MAX_PREVIOUS_RATCHET_KEYS} earlier ratchet keys.`,
    );
  }
  for (let i = 0; i < previousCount; i += 1) {
    state.previous.push(reader.take(X25519_KEY_BYTES));
  }
  reader.finish();
  return state;
}
