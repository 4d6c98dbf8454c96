// Quick exit, in the manner of GOV.UK's "Exit this page": a button on every
// screen and the Shift key pressed three times. It blanks the page at once,
// drops everything the page holds in memory, tells the other open tabs of
// this site to do the same, and replaces the current history entry with the
// practice's neutral site, so Back does not return here.

const FALLBACK_EXIT_URL = "https://www.wikipedia.org/";
const SHIFT_PRESSES = 3;
const SHIFT_WINDOW_MS = 5000;
const CHANNEL_NAME = "quick-exit";

let exitUrl = FALLBACK_EXIT_URL;
let exiting = false;
const wipers = new Set();
let channel = null;

export function setExitUrl(url) {
  exitUrl = safeExitUrl(url);
}

export function safeExitUrl(url) {
  try {
    const parsed = new URL(String(url), window.location.origin);
    if (parsed.protocol === "https:" || parsed.protocol === "http:") return parsed.href;
  } catch {
    // An unusable address falls back to the default below.
  }
  return FALLBACK_EXIT_URL;
}

// Registers a function that erases something held in memory; quick exit runs
// them all before it leaves. Returns a function that unregisters it.
export function onQuickExit(wipe) {
  wipers.add(wipe);
  return () => wipers.delete(wipe);
}

export function quickExit({ broadcast = true } = {}) {
  if (exiting) return;
  exiting = true;
  document.documentElement.classList.add("is-exiting");
  for (const wipe of wipers) {
    try {
      wipe();
    } catch {
      // Leaving matters more than a wipe that failed; the page is going away.
    }
  }
  wipers.clear();
  if (broadcast && channel) {
    try {
      channel.postMessage("exit");
    } catch {
      // Other tabs still have their own button.
    }
  }
  document.body.replaceChildren();
  window.location.replace(exitUrl);
}

export function installQuickExit(buttons) {
  for (const button of buttons) {
    button.addEventListener("click", (event) => {
      event.preventDefault();
      quickExit();
    });
  }
  let presses = [];
  document.addEventListener(
    "keydown",
    (event) => {
      if (event.key !== "Shift") {
        presses = [];
        return;
      }
      if (event.repeat) return;
      const now = performance.now();
      presses = presses.filter((time) => now - time < SHIFT_WINDOW_MS);
      presses.push(now);
      if (presses.length >= SHIFT_PRESSES) quickExit();
    },
    true,
  );
  if ("BroadcastChannel" in window) {
    channel = new BroadcastChannel(CHANNEL_NAME);
    channel.addEventListener("message", (event) => {
      if (event.data === "exit") quickExit({ broadcast: false });
    });
  }
}
