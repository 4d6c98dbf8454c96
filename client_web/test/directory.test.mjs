// Profiles (app/directory.js) keep the limits the server applies, from
// lib/constants.js: a profile over MAX_PROFILE_BYTES is refused before it
// is signed, and a received field over its limit is not shown.
import assert from "node:assert/strict";
import test from "node:test";

import { encodeProfile, readProfile } from "../app/directory.js";
import {
  MAX_PROFILE_BYTES,
  PROFILE_LIST_ITEM_CHARS,
  PROFILE_LIST_ITEMS,
  PROFILE_TEXT_CHARS,
} from "../lib/constants.js";

const PROFILE = {
  display_name: "Noor Haddad",
  pronouns: "she/her",
  specialties: ["Anxiety"],
  languages: ["English"],
  response_time: "within a day",
  accepting: true,
  away_message: "",
  office_hours: "",
};

test("a profile within the limits is encoded as JSON", () => {
  assert.deepEqual(JSON.parse(new TextDecoder().decode(encodeProfile(PROFILE))), PROFILE);
});

test("a profile over MAX_PROFILE_BYTES is refused before signing", () => {
  // Control characters take six bytes each in JSON.
  const away = "\u0001".repeat(Math.ceil(MAX_PROFILE_BYTES / 6) + 1);
  assert.throws(() => encodeProfile({ ...PROFILE, away_message: away }), /the most is 16384/);
});

test("received fields over their limits are dropped, the name is required", () => {
  const long = (limit) => "x".repeat(limit + 1);
  const read = readProfile({
    ...PROFILE,
    pronouns: long(PROFILE_TEXT_CHARS.pronouns),
    specialties: Array(PROFILE_LIST_ITEMS + 1).fill("a"),
    languages: [long(PROFILE_LIST_ITEM_CHARS)],
  });
  assert.equal(read.pronouns, "");
  assert.deepEqual(read.specialties, []);
  assert.deepEqual(read.languages, []);
  assert.equal(
    readProfile({ ...PROFILE, display_name: long(PROFILE_TEXT_CHARS.display_name) }),
    null,
  );
});
