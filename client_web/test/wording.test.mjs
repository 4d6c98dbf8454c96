// Every error code the server documents must reach a person in plain words,
// not as the generic fallback sentence.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { describe } from "../app/wording.js";

const api = readFileSync(new URL("../../docs/API.md", import.meta.url), "utf8");
const section = api.slice(api.indexOf("## Error codes"));
const codes = [...section.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
const generic = describe({ code: "no_such_code_anywhere" });

test("the API documents error codes", () => {
  assert.ok(codes.length >= 20, `found only ${codes.length} codes`);
});

test("every documented server error code has its own wording", () => {
  const missing = codes.filter((code) => describe({ code }) === generic);
  assert.deepEqual(missing, []);
});

// PROTOCOL.md section 13's table: every protocol error a person can meet.
const protocol = readFileSync(new URL("../../docs/PROTOCOL.md", import.meta.url), "utf8");
const table = protocol.slice(protocol.indexOf("## 13. Errors"), protocol.indexOf("## 14."));
const protocolCodes = [...table.matchAll(/^\| `[A-Za-z]+` \| `([a-z_]+)` \|/gm)].map((m) => m[1]);

test("every protocol error code, the groups' included, has its own wording", () => {
  assert.ok(protocolCodes.includes("missing_sender_key"), "the table lists the group errors");
  const missing = protocolCodes.filter((code) => describe({ code }) === generic);
  assert.deepEqual(missing, []);
});
