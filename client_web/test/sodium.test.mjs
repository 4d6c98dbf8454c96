// Loading libsodium once, in Node here and from the page's global in the browser.
import assert from "node:assert/strict";
import test from "node:test";

test("loadSodium prefers an already loaded global, as the browser provides", async () => {
  const { default: real } = await import("libsodium-wrappers-sumo");
  await real.ready;
  const marked = Object.create(real);
  globalThis.sodium = marked;
  try {
    const { loadSodium } = await import("../lib/sodium.js?global");
    assert.equal(await loadSodium(), marked);
  } finally {
    delete globalThis.sodium;
  }
});

test("loadSodium imports the sumo build once and returns the same ready instance", async () => {
  const { loadSodium, sodium: before } = await import("../lib/sodium.js?node");
  assert.equal(before, null);
  const first = await loadSodium();
  const second = await loadSodium();
  assert.equal(first, second);
  assert.equal(typeof first.crypto_pwhash, "function");
  assert.equal(typeof first.crypto_kem_mlkem768_dec, "function");
  const { sodium: after } = await import("../lib/sodium.js?node");
  assert.equal(after, first, "other modules see the instance through the live binding");
});

test("a build without Argon2id or ML-KEM is refused with a clear message", async () => {
  globalThis.sodium = { ready: Promise.resolve(), crypto_pwhash: undefined };
  try {
    const { loadSodium } = await import("../lib/sodium.js?core");
    await assert.rejects(loadSodium(), /not the sumo build/);
  } finally {
    delete globalThis.sodium;
  }
});
