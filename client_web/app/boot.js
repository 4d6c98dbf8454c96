// Entry point. Quick exit is installed before anything else can fail, so the
// exit works even when the encryption library does not load. The rest of the
// application is loaded afterwards; if it or libsodium fails, the page says
// so and offers nothing that could send a message unencrypted.

import { installQuickExit } from "./quickexit.js";

const START_TIMEOUT_MS = 30000;

installQuickExit(document.querySelectorAll("[data-quick-exit]"));

document.getElementById("skip-link")?.addEventListener("click", (event) => {
  // A fragment link would add a history entry that survives quick exit.
  event.preventDefault();
  document.getElementById("main")?.focus();
});

function showStartFailure() {
  document.getElementById("boot")?.setAttribute("hidden", "");
  document.getElementById("boot-failed")?.removeAttribute("hidden");
}

async function start() {
  if (globalThis.sodium === undefined) throw new Error("libsodium did not load");
  const { startApp } = await import("./main.js");
  await startApp();
}

let timer;
const timeout = new Promise((_, reject) => {
  timer = setTimeout(() => reject(new Error("start-up timed out")), START_TIMEOUT_MS);
});
Promise.race([start(), timeout])
  .catch(showStartFailure)
  .finally(() => clearTimeout(timer));
