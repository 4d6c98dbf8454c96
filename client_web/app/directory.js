// The therapist directory and therapist profiles (docs/API.md). Every
// profile's signature is checked over the exact bytes received, and a profile
// that fails any check is left out rather than shown.

import {
  ED25519_PUBLIC_KEY_BYTES,
  MAX_PROFILE_BYTES,
  PROFILE_LIST_ITEM_CHARS,
  PROFILE_LIST_ITEMS,
  PROFILE_TEXT_CHARS,
  SIGNATURE_BYTES,
} from "../lib/constants.js";
import { b64uDecode, b64uEncode, utf8Decode, utf8Encode } from "../lib/encoding.js";
import { identityDhPublic } from "../lib/keys.js";
import { signProfile, verifyProfile } from "../lib/signatures.js";
import { request } from "./api.js";
import { idBytes } from "./ids.js";

export async function loadDirectory() {
  const answer = await request("GET", "/api/directory");
  const therapists = Array.isArray(answer.therapists) ? answer.therapists : [];
  const verified = [];
  for (const entry of therapists) {
    const therapist = verifiedEntry(entry);
    if (therapist) verified.push(therapist);
  }
  return verified;
}

function verifiedEntry(entry) {
  try {
    idBytes(entry.account);
    const identityKey = b64uDecode(entry.identity_key, { length: ED25519_PUBLIC_KEY_BYTES });
    identityDhPublic(identityKey);
    const bytes = b64uDecode(entry.profile, { maxLength: MAX_PROFILE_BYTES });
    verifyProfile(identityKey, bytes, b64uDecode(entry.sig, { length: SIGNATURE_BYTES }));
    const profile = readProfile(JSON.parse(utf8Decode(bytes)));
    return profile ? { account: entry.account, identityKey, profile } : null;
  } catch {
    return null;
  }
}

function text(value, limit) {
  return typeof value === "string" && [...value].length <= limit ? value : null;
}

function list(value) {
  if (!Array.isArray(value) || value.length > PROFILE_LIST_ITEMS) return null;
  return value.every((item) => text(item, PROFILE_LIST_ITEM_CHARS) !== null) ? value : null;
}

// Only the documented fields, each checked; a profile without a usable name
// is not shown.
export function readProfile(raw) {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) return null;
  const name = text(raw.display_name, PROFILE_TEXT_CHARS.display_name);
  if (!name?.trim()) return null;
  return {
    display_name: name.trim(),
    pronouns: text(raw.pronouns, PROFILE_TEXT_CHARS.pronouns) ?? "",
    specialties: list(raw.specialties) ?? [],
    languages: list(raw.languages) ?? [],
    response_time: text(raw.response_time, PROFILE_TEXT_CHARS.response_time) ?? "",
    accepting: raw.accepting !== false,
    away_message: text(raw.away_message, PROFILE_TEXT_CHARS.away_message) ?? "",
    office_hours: text(raw.office_hours, PROFILE_TEXT_CHARS.office_hours) ?? "",
    time_zone: text(raw.time_zone, PROFILE_TEXT_CHARS.time_zone) ?? "",
  };
}

// The bytes that are signed and published; a profile the server would
// refuse as too large is refused here, before it is signed.
export function encodeProfile(profile) {
  const bytes = utf8Encode(JSON.stringify(profile));
  if (bytes.length > MAX_PROFILE_BYTES) {
    throw new Error(
      `This profile is ${bytes.length} bytes; the most is ${MAX_PROFILE_BYTES}. Please shorten it.`,
    );
  }
  return bytes;
}

export async function publishProfile({ identity, token }, profile) {
  const bytes = encodeProfile(profile);
  const sig = signProfile(identity, bytes);
  await request("PUT", "/api/profile", {
    token: token(),
    body: { profile: b64uEncode(bytes), sig: b64uEncode(sig) },
  });
}

// Office hours with the clock they are on, e.g. "Mon-Thu 9-17 (Europe/Berlin
// time)": a client elsewhere would otherwise read them in their own time.
export function officeHours(profile) {
  if (!profile.office_hours) return "";
  return profile.time_zone
    ? `${profile.office_hours} (${profile.time_zone} time)`
    : profile.office_hours;
}
