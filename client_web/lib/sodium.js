// The one place that loads libsodium, in Node and in the browser alike.
//
// Call `await loadSodium()` once at start-up; afterwards every module of lib/
// uses the live binding `sodium` exported here. In the browser the page has
// already loaded libsodium's two UMD files as classic scripts, which set
// `globalThis.sodium` (no bundler, no import map, nothing inline for the CSP);
// in Node the package is imported by name.

export let sodium = null;

export async function loadSodium() {
  if (sodium !== null) {
    return sodium;
  }
  let candidate = globalThis.sodium;
  if (candidate === undefined) {
    const module = await import("libsodium-wrappers-sumo");
    candidate = module.default ?? module;
  }
  await candidate.ready;
  if (
    typeof candidate.crypto_pwhash !== "function" ||
    typeof candidate.crypto_kem_mlkem768_enc !== "function"
  ) {
    throw new Error("The loaded libsodium is not the sumo build; serve libsodium-wrappers-sumo.");
  }
  sodium = candidate;
  return sodium;
}
