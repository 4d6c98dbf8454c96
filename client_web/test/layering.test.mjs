// The web client's layers (docs/ARCHITECTURE.md): lib/ is the protocol and
// imports only lib/ (and, in sodium.js alone, the libsodium package for
// Node); it never touches the page, the network or the browser's storage.
// app/ imports only app/ and lib/. Views are imported by app/ only.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import test from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"|import\(\s*"([^"]+)"\s*\)/g;
const PAGE_AND_NETWORK =
  /\b(window|document|fetch|WebSocket|XMLHttpRequest|localStorage|sessionStorage|indexedDB|navigator)\b/;

function modules(directory) {
  return readdirSync(join(ROOT, directory), { recursive: true })
    .filter((name) => name.endsWith(".js"))
    .map((name) => join(ROOT, directory, name));
}

function importsOf(file) {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(IMPORT)].map((match) => match[1] ?? match[2]);
}

function layerOf(file, specifier) {
  if (!specifier.startsWith(".")) return specifier;
  return relative(ROOT, resolve(dirname(file), specifier)).split("/")[0];
}

// Code only: comments may name the page ("the document").
function code(file) {
  return readFileSync(file, "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/\/\/.*$/gm, "")
    .replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`/g, '""');
}

test("lib/ imports only lib/, and libsodium only where it is loaded", () => {
  const outside = [];
  for (const file of modules("lib")) {
    for (const specifier of importsOf(file)) {
      const layer = layerOf(file, specifier);
      const allowed =
        layer === "lib" || (file.endsWith("sodium.js") && specifier === "libsodium-wrappers-sumo");
      if (!allowed) outside.push(`${relative(ROOT, file)} -> ${specifier}`);
    }
  }
  assert.deepEqual(outside, []);
});

test("lib/ never touches the page, the network or the browser's storage", () => {
  const touching = modules("lib")
    .filter((file) => PAGE_AND_NETWORK.test(code(file)))
    .map((file) => relative(ROOT, file));
  assert.deepEqual(touching, []);
});

test("app/ imports only app/ and lib/", () => {
  const outside = [];
  for (const file of modules("app")) {
    for (const specifier of importsOf(file)) {
      const layer = layerOf(file, specifier);
      if (layer !== "app" && layer !== "lib")
        outside.push(`${relative(ROOT, file)} -> ${specifier}`);
    }
  }
  assert.deepEqual(outside, []);
});

test("the checks see imports at all", () => {
  assert.ok(importsOf(join(ROOT, "app", "sender.js")).includes("../lib/session.js"));
  assert.ok(PAGE_AND_NETWORK.test(code(join(ROOT, "app", "api.js"))));
});
