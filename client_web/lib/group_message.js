// Framing of a group message (PROTOCOL.md section 15.4); the twin of
// crypto/group_message.py.
//
// A group message is `header || ciphertext || signature`. Parsing checks the
// shape, and verifying checks the sender key's signature, which reveals
// nothing of the content; opening the ciphertext is sender_key.js's work.
//
// Exported API:
//   encodeGroupHeader({groupId, rosterVersion, senderKey, iteration}) -> Uint8Array(62)
//   parseGroupMessage(bytes) -> {header, ciphertext, signature, signedPart}
//   verifyGroupMessage(bytes) -> the same, after the signature verified

import {
  AEAD_TAG_BYTES,
  BUCKETS,
  CTX_GROUP_MESSAGE,
  ED25519_PUBLIC_KEY_BYTES,
  GROUP_FORMAT_VERSION,
  GROUP_HEADER_BYTES,
  GROUP_MESSAGE_TYPE,
  ID_BYTES,
  MAX_GROUP_MESSAGE,
  SIGNATURE_BYTES,
} from "./constants.js";
import { concatBytes, Reader, u8, u32, u64 } from "./encoding.js";
import { MalformedError, UnsupportedVersionError } from "./errors.js";
import { checkRosterVersion, requireBytes, verifySigned } from "./group_roster.js";

export function encodeGroupHeader({ groupId, rosterVersion, senderKey, iteration }) {
  return concatBytes(
    u8(GROUP_FORMAT_VERSION),
    u8(GROUP_MESSAGE_TYPE),
    requireBytes(groupId, ID_BYTES, "group id"),
    u64(checkRosterVersion(rosterVersion, "roster version")),
    requireBytes(senderKey, ED25519_PUBLIC_KEY_BYTES, "sender key"),
    u32(iteration),
  );
}

export function parseGroupMessage(bytes) {
  if (!(bytes instanceof Uint8Array) || bytes.length < 2 || bytes.length > MAX_GROUP_MESSAGE) {
    throw new MalformedError(`A group message is 2 to ${MAX_GROUP_MESSAGE} bytes.`);
  }
  const reader = new Reader(bytes, "group message");
  if (reader.u8() !== GROUP_FORMAT_VERSION) throw new UnsupportedVersionError();
  if (reader.u8() !== GROUP_MESSAGE_TYPE) throw new MalformedError("This is not a group message.");
  if (bytes.length < GROUP_HEADER_BYTES + SIGNATURE_BYTES) {
    throw new MalformedError("The group message is too short.");
  }
  const groupId = reader.take(ID_BYTES);
  const rosterVersion = checkRosterVersion(reader.u64(), "roster version");
  const header = {
    groupId,
    rosterVersion,
    senderKey: reader.take(ED25519_PUBLIC_KEY_BYTES),
    iteration: reader.u32(),
  };
  const ciphertext = reader.take(reader.remaining() - SIGNATURE_BYTES);
  if (!BUCKETS.includes(ciphertext.length - AEAD_TAG_BYTES)) {
    throw new MalformedError("A group message's ciphertext is a padding bucket plus the tag.");
  }
  const signature = reader.take(SIGNATURE_BYTES);
  reader.finish();
  const signedPart = bytes.slice(0, bytes.length - SIGNATURE_BYTES);
  return { header, ciphertext, signature, signedPart };
}

export function verifyGroupMessage(bytes) {
  const message = parseGroupMessage(bytes);
  verifySigned(message.header.senderKey, CTX_GROUP_MESSAGE, message.signedPart, message.signature);
  return message;
}
