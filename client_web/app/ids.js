// Random identifiers (PROTOCOL.md section 1: 16 random bytes, b64u).

import { ID_BYTES } from "../lib/constants.js";
import { b64uDecode, b64uEncode } from "../lib/encoding.js";
import { sodium } from "../lib/sodium.js";

export function newId() {
  return b64uEncode(sodium.randombytes_buf(ID_BYTES));
}

export function idBytes(id) {
  return b64uDecode(id, { length: ID_BYTES });
}

export function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}
