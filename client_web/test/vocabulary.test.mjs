// The directory's vocabulary: spelling variants of one term are one term.

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  canonicalList,
  canonicalTerm,
  filterOptions,
  listHas,
  termKey,
} from "../app/vocabulary.js";

const LANGUAGES = ["English", "Español", "Français", "العربية", "Thai"];
const SPECIALTIES = ["Anxiety", "Trauma", "Sex work"];

test("case, spacing and accents do not make another term", () => {
  assert.equal(termKey("  Sex   WORK "), "sex work");
  assert.equal(termKey("Español"), termKey("espanol"));
  assert.equal(canonicalTerm("english", LANGUAGES), "English");
  assert.equal(canonicalTerm("ESPANOL", LANGUAGES), "Español");
  assert.equal(canonicalTerm("sex  work", SPECIALTIES), "Sex work");
  assert.equal(canonicalTerm("العربية", LANGUAGES), "العربية");
});

test("a one-letter slip in a long enough word is the practice's term", () => {
  assert.equal(canonicalTerm("Englsh", LANGUAGES), "English");
  assert.equal(canonicalTerm("Enlgish", LANGUAGES), "English");
  assert.equal(canonicalTerm("Anxeity", SPECIALTIES), "Anxiety");
  assert.equal(canonicalTerm("Traumas", SPECIALTIES), "Trauma");
  // Short words are left alone, and two slips are another term.
  assert.equal(canonicalTerm("Tai", LANGUAGES), "Tai");
  assert.equal(canonicalTerm("Engsh", LANGUAGES), "Engsh");
});

test("free text stays as typed, tidied, when the practice has no such term", () => {
  assert.equal(canonicalTerm("  Grief ", SPECIALTIES), "Grief");
  assert.equal(canonicalTerm("grief", []), "grief");
  assert.equal(canonicalTerm("   ", SPECIALTIES), "");
});

test("lists lose their repeats and keep their order", () => {
  assert.deepEqual(canonicalList(["english", "Français", "English", " ENGLSH"], LANGUAGES), [
    "English",
    "Français",
  ]);
  assert.deepEqual(canonicalList(["Grief", "grief", "GRIEF"], []), ["Grief"]);
});

test("filter options: the practice's terms first, then the others once each", () => {
  const lists = [
    ["anxiety", "Grief"],
    ["Anxiety", "grief", "Burnout"],
  ];
  assert.deepEqual(filterOptions(lists, SPECIALTIES), [
    "Anxiety",
    "Trauma",
    "Sex work",
    "Burnout",
    "Grief",
  ]);
  assert.deepEqual(filterOptions([["english"], ["English", "Englsh"]], []), ["english", "Englsh"]);
});

test("a therapist is found under the option however they spelled it", () => {
  assert.ok(listHas(["englsh"], "English", LANGUAGES));
  assert.ok(listHas(["ANXIETY"], "Anxiety", SPECIALTIES));
  assert.ok(listHas(["grief"], "Grief", SPECIALTIES));
  assert.ok(!listHas(["Trauma"], "Anxiety", SPECIALTIES));
});
