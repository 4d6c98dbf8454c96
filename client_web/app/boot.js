// Entry point, and the first script of the page. Quick exit is installed
// before anything else loads, so the exit works from the first paint, on a
// slow connection, and when the encryption library does not load at all.
//
// Only then does the rest follow: the practice's settings (which hold the
// exit address, so they are asked for at once), libsodium (1.2 MB; it must
// not hold up the exit, so it is loaded from here rather than by a blocking
// tag in the page) and the application. If any of it fails, the page says so
// and offers nothing that could send a message unencrypted.

import { installQuickExit, setExitUrl } from "./quickexit.js";

const START_TIMEOUT_MS = 120000;
// In order: the wrapper expects the core to be loaded first.
const LIBSODIUM = ["/vendor/libsodium-sumo.js", "/vendor/libsodium-wrappers.js"];

installQuickExit(document.querySelectorAll("[data-quick-exit]"));

document.getElementById("skip-link")?.addEventListener("click", (event) => {
  // A fragment link would add a history entry that survives quick exit.
  event.preventDefault();
  document.getElementById("main")?.focus();
});

// Matches the page's <link rel="preload">, so the answer already on its way is
// used (the server never sets a cookie, and sends the answer with no-store).
const practiceInfo = fetch("/api/info", { credentials: "same-origin" })
  .then((response) => (response.ok ? response.json() : null))
  .catch(() => null);
practiceInfo.then((info) => {
  if (info && typeof info.exit_url === "string") setExitUrl(info.exit_url);
});

// Classic scripts (they set globalThis.sodium), fetched side by side and run
// in the order given (async = false).
function loadScripts(sources) {
  return Promise.all(
    sources.map(
      (src) =>
        new Promise((resolve, reject) => {
          const script = document.createElement("script");
          script.src = src;
          script.async = false;
          script.addEventListener("load", resolve);
          script.addEventListener("error", () => reject(new Error(`${src} did not load`)));
          document.head.append(script);
        }),
    ),
  );
}

function showStartFailure() {
  document.getElementById("boot")?.setAttribute("hidden", "");
  document.getElementById("boot-failed")?.removeAttribute("hidden");
}

async function start() {
  await loadScripts(LIBSODIUM);
  if (globalThis.sodium === undefined) throw new Error("libsodium did not load");
  const { startApp } = await import("./main.js");
  await startApp(await practiceInfo);
}

let timer;
const timeout = new Promise((_, reject) => {
  timer = setTimeout(() => reject(new Error("start-up timed out")), START_TIMEOUT_MS);
});
Promise.race([start(), timeout])
  .catch(showStartFailure)
  .finally(() => clearTimeout(timer));
