// Message payloads (PROTOCOL.md section 6): UTF-8 JSON objects, version 1.
//
// Known types are checked field by field; a payload of a type this client
// does not know is returned as parsed, for the caller to ignore, as the
// protocol asks (newer clients may send types older ones cannot show).

import {
  ED25519_PUBLIC_KEY_BYTES,
  GROUP_DISTRIBUTION_MAX_BYTES,
  GROUP_NAME_SALT_BYTES,
  GROUP_NOTE_MAX_CHARS,
  ID_BYTES,
  MAX_BODY_CHARS,
  MAX_GROUP_LISTING_BYTES,
  MAX_PLAINTEXT,
  PAYLOAD_VERSION,
  SIGNATURE_BYTES,
} from "./constants.js";
import { b64uDecode, b64uEncode, utf8Decode, utf8Encode } from "./encoding.js";
import { MalformedError, UnsupportedVersionError } from "./errors.js";
import { checkDisplayName } from "./group_roster.js";

export const PAYLOAD_TYPES = Object.freeze({
  text: "text",
  receipt: "receipt",
  groupKey: "group_key",
  groupJoin: "group_join",
  groupListing: "group_listing",
});
export const RECEIPT_STATES = Object.freeze(["delivered", "read"]);

function checkId(id) {
  b64uDecode(id, { length: ID_BYTES });
  return id;
}

function checkSent(sent) {
  if (!Number.isSafeInteger(sent) || sent < 0) {
    throw new MalformedError("`sent` must be a non-negative integer of unix seconds.");
  }
  return sent;
}

function checkBody(body) {
  // Counted in characters (code points), as the document and Python count them.
  if (typeof body !== "string" || [...body].length > MAX_BODY_CHARS) {
    throw new MalformedError(`\`body\` must be text of at most ${MAX_BODY_CHARS} characters.`);
  }
  // A lone surrogate (possible through a JSON \u escape) is not text.
  if (!body.isWellFormed()) {
    throw new MalformedError("`body` must be valid Unicode text.");
  }
  return body;
}

function checkReceipt(state, ids) {
  if (!RECEIPT_STATES.includes(state)) {
    throw new MalformedError('A receipt `state` is "delivered" or "read".');
  }
  if (!Array.isArray(ids) || ids.length === 0) {
    throw new MalformedError("A receipt carries `ids`, a list of one or more message ids.");
  }
  for (const id of ids) checkId(id);
}

function checkNote(note) {
  if (typeof note !== "string" || [...note].length > GROUP_NOTE_MAX_CHARS) {
    throw new MalformedError(`A join note is text of at most ${GROUP_NOTE_MAX_CHARS} characters.`);
  }
  if (!note.isWellFormed()) {
    throw new MalformedError("A join note must be valid Unicode text.");
  }
  return note;
}

function checkName(name) {
  checkDisplayName(name);
  return name;
}

function checkGroupKey(key) {
  b64uDecode(key, { maxLength: GROUP_DISTRIBUTION_MAX_BYTES });
  return key;
}

function checkGroupJoin(object) {
  checkId(object.group);
  b64uDecode(object.member_key, { length: ED25519_PUBLIC_KEY_BYTES });
  checkName(object.name);
  b64uDecode(object.salt, { length: GROUP_NAME_SALT_BYTES });
  checkNote(object.note);
}

function checkGroupListing(object) {
  b64uDecode(object.listing, { maxLength: MAX_GROUP_LISTING_BYTES });
  b64uDecode(object.sig, { length: SIGNATURE_BYTES });
}

function encode(object) {
  const bytes = utf8Encode(JSON.stringify(object));
  if (bytes.length > MAX_PLAINTEXT) {
    throw new MalformedError(`The payload is ${bytes.length} bytes; at most ${MAX_PLAINTEXT} fit.`);
  }
  return bytes;
}

export function encodeText({ id, sent, body }) {
  checkId(id);
  return encode({
    v: PAYLOAD_VERSION,
    type: PAYLOAD_TYPES.text,
    id,
    sent: checkSent(sent),
    body: checkBody(body),
  });
}

export function encodeReceipt({ state, ids }) {
  checkReceipt(state, ids);
  return encode({ v: PAYLOAD_VERSION, type: PAYLOAD_TYPES.receipt, state, ids: [...ids] });
}

// A SenderKeyDistributionMessage (section 15.3) as the pairwise session carries it.
export function encodeGroupKey(distribution) {
  if (!(distribution instanceof Uint8Array)) {
    throw new MalformedError("A sender key distribution must be bytes.");
  }
  const key = checkGroupKey(b64uEncode(distribution));
  return encode({ v: PAYLOAD_VERSION, type: PAYLOAD_TYPES.groupKey, key });
}

// A request to join a group, sent to its moderator (section 15.2); the
// group, member key and salt are b64u, as in the JSON.
export function encodeGroupJoin({ group, memberKey, name, salt, note }) {
  const object = {
    v: PAYLOAD_VERSION,
    type: PAYLOAD_TYPES.groupJoin,
    group,
    member_key: memberKey,
    name,
    salt,
    note,
  };
  checkGroupJoin(object);
  return encode(object);
}

// A private group's signed listing, from its moderator to a member (section 15.9).
export function encodeGroupListing(listing, sig) {
  if (!(listing instanceof Uint8Array) || !(sig instanceof Uint8Array)) {
    throw new MalformedError("A group listing and its signature must be bytes.");
  }
  const object = {
    v: PAYLOAD_VERSION,
    type: PAYLOAD_TYPES.groupListing,
    listing: b64uEncode(listing),
    sig: b64uEncode(sig),
  };
  checkGroupListing(object);
  return encode(object);
}

export function decodePayload(bytes) {
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_PLAINTEXT) {
    throw new MalformedError(`A payload is at most ${MAX_PLAINTEXT} bytes.`);
  }
  let object;
  try {
    object = JSON.parse(utf8Decode(bytes));
  } catch (error) {
    if (error instanceof MalformedError) {
      throw error;
    }
    throw new MalformedError("The payload is not JSON.");
  }
  if (object === null || typeof object !== "object" || Array.isArray(object)) {
    throw new MalformedError("The payload must be a JSON object.");
  }
  if (!Number.isInteger(object.v)) {
    throw new MalformedError("The payload has no integer version `v`.");
  }
  if (object.v !== PAYLOAD_VERSION) {
    throw new UnsupportedVersionError(`Payload version ${object.v} is not known here.`);
  }
  if (typeof object.type !== "string") {
    throw new MalformedError("The payload has no `type`.");
  }
  if (object.type === PAYLOAD_TYPES.text) {
    checkId(object.id);
    checkSent(object.sent);
    checkBody(object.body);
  } else if (object.type === PAYLOAD_TYPES.receipt) {
    checkReceipt(object.state, object.ids);
  } else if (object.type === PAYLOAD_TYPES.groupKey) {
    checkGroupKey(object.key);
  } else if (object.type === PAYLOAD_TYPES.groupJoin) {
    checkGroupJoin(object);
  } else if (object.type === PAYLOAD_TYPES.groupListing) {
    checkGroupListing(object);
  }
  return object;
}
