// Message payloads (PROTOCOL.md section 6): UTF-8 JSON objects, version 1.
//
// Known types are checked field by field; a payload of a type this client
// does not know is returned as parsed, for the caller to ignore, as the
// protocol asks (newer clients may send types older ones cannot show).

import { ID_BYTES, MAX_BODY_CHARS, MAX_PLAINTEXT, PAYLOAD_VERSION } from "./constants.js";
import { b64uDecode, utf8Decode, utf8Encode } from "./encoding.js";
import { MalformedError, UnsupportedVersionError } from "./errors.js";

export const PAYLOAD_TYPES = Object.freeze({ text: "text", receipt: "receipt" });
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
  }
  return object;
}
