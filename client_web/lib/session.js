// Sessions as the client uses them: PQXDH set-up from a verified bundle, the
// ratchet, padding, payloads and envelopes put together, with the
// prekey-message rules of PROTOCOL.md section 4.
//
// Every function returns new values and changes none of its arguments; the
// caller commits the returned session state (and prekeys item) in the same
// vault write as the message it belongs to, and keeps the old ones if that
// write fails. A session state is the ratchet state of ratchet.js.
//
// Exported API (synchronous, after `await loadSodium()`; bytes are Uint8Array):
//   startSession(identity, bundleJson) -> {state, peer: {account, identityKey}}
//       verifies the bundle (MalformedError); messages are prekey messages until
//       the peer answers
//   encryptPayload(state, payloadBytes) -> {state, envelope}
//       payloadBytes from payload.js encodeText / encodeReceipt
//   decryptEnvelope({identity, prekeys, record, expectedPeerIdentity?}, envelope)
//       -> {record, state, payload, peerIdentity, prekeys, newSession}
//       `prekeys` is the account's prekeys vault item, `record` the stored
//       session record with the sender (session_record.js) or null; the
//       result's `record` is the record to store, whose first session, `state`,
//       is the one that opened the message (PROTOCOL.md 5.8); `expectedPeerIdentity`, when given, is the
//       sender's registered identity key, which a prekey message must carry
//       (IdentityChangedError otherwise, as for another key than the session's).
//       `payload` is the decoded payload object (payload.js decodePayload; a type
//       this client does not know comes back as parsed, for the caller to
//       ignore); a payload that is not valid JSON of version 1 fails like any
//       other bad message, with the session unchanged. The result's `prekeys`
//       is the item to store (the same object when unchanged), `newSession`
//       true when a prekey message set up (or replaced) the session. Throws a
//       ProtocolError otherwise:
//       MalformedError, UnsupportedVersionError, TamperedError, ReplayedError,
//       TooFarSkippedError, WrongRecipientError (a prekey message for keys not
//       held, or a message with no session to read it), IdentityChangedError
//       (a prekey message from a sender with a session, under another identity key)
//   peerIdentityOf(state, identity) -> Uint8Array(32) the other party's Ed25519 key
//   exportRecord(record) -> string (b64u of PROTOCOL.md 5.8, the session item's `sessions`)
//   importRecord(text) -> record
//   exportSession(state) -> string, importSession(text) -> state: one state as
//       b64u of 5.7 (a group's pairwise session, section 15; and the `state`
//       of a session item written before records, read as a record of one)

import { ED25519_PUBLIC_KEY_BYTES, ENVELOPE_TYPE_PREKEY } from "./constants.js";
import { b64uDecode, b64uEncode, bytesEqual } from "./encoding.js";
import { decodeEnvelope, encodeEnvelope } from "./envelope.js";
import {
  IdentityChangedError,
  ProtocolError,
  ReplayedError,
  TamperedError,
  WrongRecipientError,
} from "./errors.js";
import { pad, unpad } from "./padding.js";
import { decodePayload } from "./payload.js";
import { acceptPrekeyMessage, findPrekeys, hasSeenEphemeral } from "./prekeys.js";
import {
  decodeState,
  encodeState,
  initReceiver,
  initSender,
  ratchetDecrypt,
  ratchetEncrypt,
} from "./ratchet.js";
import { addSession, decodeRecord, encodeRecord, promote } from "./session_record.js";
import { sodium } from "./sodium.js";
import { initiate, parseBundle, respond } from "./x3dh.js";

function initiatorKey(state) {
  return state.ad.slice(0, ED25519_PUBLIC_KEY_BYTES);
}

function responderKey(state) {
  return state.ad.slice(ED25519_PUBLIC_KEY_BYTES);
}

export function peerIdentityOf(state, identity) {
  return bytesEqual(initiatorKey(state), identity.publicKey)
    ? responderKey(state)
    : initiatorKey(state);
}

// `fixed` lets a test vector supply the ephemeral pair, the KEM result and the
// first ratchet pair; in use they are always fresh.
export function startSession(identity, bundleJson, fixed = {}) {
  const bundle = parseBundle(bundleJson);
  const agreement = initiate(identity, bundle, fixed);
  const state = initSender({
    sharedKey: agreement.sharedKey,
    remoteRatchetKey: agreement.remoteRatchetKey,
    ad: agreement.ad,
    ek: agreement.ephemeralKey,
    pending: {
      spkId: agreement.spkId,
      opkId: agreement.opkId,
      pqId: agreement.pqId,
      kemCiphertext: agreement.kemCiphertext,
    },
    ratchetPair: fixed.ratchetPair,
  });
  sodium.memzero(agreement.sharedKey);
  return { state, peer: { account: bundle.account, identityKey: bundle.identityKey } };
}

export function encryptPayload(state, payloadBytes) {
  const padded = pad(payloadBytes);
  const sent = ratchetEncrypt(state, padded);
  sodium.memzero(padded);
  const prekey =
    state.pending === null
      ? null
      : {
          identityKey: initiatorKey(state),
          ephemeralKey: state.ek,
          ...state.pending,
        };
  return {
    state: sent.state,
    envelope: encodeEnvelope({ prekey, header: sent.header, ciphertext: sent.ciphertext }),
  };
}

function openInSession(state, envelope, options) {
  const opened = ratchetDecrypt(state, envelope.header, envelope.ciphertext, options);
  try {
    return { state: opened.state, payload: decodePayload(unpad(opened.plaintext)) };
  } finally {
    sodium.memzero(opened.plaintext);
  }
}

// Section 5.8: the sessions are tried in order and the one that opens the
// message becomes the active one. When none does, the error is the first that
// is not TamperedError (a session that knows the message's chain says what is
// wrong with it), else TamperedError. A failed attempt may have generated a
// ratchet key; it is discarded with the attempt.
function openInRecord(record, envelope, options) {
  let firstError = null;
  for (const [index, state] of record.entries()) {
    try {
      const opened = openInSession(state, envelope, options);
      return { ...opened, record: promote(record, index, opened.state) };
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      if (
        firstError === null ||
        (firstError instanceof TamperedError && !(error instanceof TamperedError))
      ) {
        firstError = error;
      }
    }
  }
  throw firstError;
}

function acceptNewSession(identity, prekeys, record, prekey, envelope, options) {
  if (hasSeenEphemeral(prekeys, prekey.ephemeralKey)) {
    throw new ReplayedError("This prekey message was already accepted; the copy was ignored.");
  }
  const held = findPrekeys(prekeys, prekey);
  let fresh;
  try {
    const agreement = respond(identity, prekey, held);
    fresh = initReceiver({
      sharedKey: agreement.sharedKey,
      signedPrekeyPair: held.signedPrekey,
      ad: agreement.ad,
      ek: prekey.ephemeralKey,
    });
    sodium.memzero(agreement.sharedKey);
  } finally {
    sodium.memzero(held.signedPrekey.privateKey);
    sodium.memzero(held.pqPrivate);
    if (held.oneTimePrivate !== null) {
      sodium.memzero(held.oneTimePrivate);
    }
  }
  const opened = openInSession(fresh, envelope, options);
  // Step 5: the new session becomes the active one, the earlier ones follow.
  return {
    ...opened,
    record: addSession(record, opened.state),
    prekeys: acceptPrekeyMessage(prekeys, prekey),
    newSession: true,
  };
}

// `options.generateDh` lets a test vector fix the next ratchet pair.
export function decryptEnvelope(
  { identity, prekeys, record, expectedPeerIdentity },
  envelopeBytes,
  options = {},
) {
  const envelope = decodeEnvelope(envelopeBytes);
  const held = record !== null && record !== undefined;
  let result;
  if (envelope.type === ENVELOPE_TYPE_PREKEY) {
    const { prekey } = envelope;
    if (
      expectedPeerIdentity !== undefined &&
      expectedPeerIdentity !== null &&
      !bytesEqual(prekey.identityKey, expectedPeerIdentity)
    ) {
      throw new IdentityChangedError();
    }
    // Step 0 of section 4: an account's identity key never changes, so a
    // sender we have a session with must name the same one (every session of
    // a record is between the same two keys).
    if (held && !bytesEqual(prekey.identityKey, peerIdentityOf(record[0], identity))) {
      throw new IdentityChangedError();
    }
    // Step 1: a further prekey message of a session this sender set up,
    // active or earlier; it opens there, and that session becomes active.
    const index = held ? record.findIndex((s) => bytesEqual(s.ek, prekey.ephemeralKey)) : -1;
    if (index >= 0) {
      const opened = openInSession(record[index], envelope, options);
      result = {
        ...opened,
        record: promote(record, index, opened.state),
        prekeys,
        newSession: false,
      };
    } else {
      result = acceptNewSession(identity, prekeys, held ? record : null, prekey, envelope, options);
    }
  } else {
    if (!held) {
      throw new WrongRecipientError(
        "There is no session with this sender to read the message; ask them to start over.",
      );
    }
    result = { ...openInRecord(record, envelope, options), prekeys, newSession: false };
  }
  return { ...result, peerIdentity: peerIdentityOf(result.state, identity) };
}

export function exportSession(state) {
  return b64uEncode(encodeState(state));
}

export function exportRecord(record) {
  return b64uEncode(encodeRecord(record));
}

export function importRecord(text) {
  return decodeRecord(b64uDecode(text));
}

export function importSession(text) {
  return decodeState(b64uDecode(text));
}
