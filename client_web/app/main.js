// Start-up once libsodium and the page are loaded: the practice's settings
// from /api/info (asked for by boot.js, null if the server could not be
// reached), then the first screen.

import { loadSodium } from "../lib/sodium.js";
import { startController } from "./controller.js";
import { byId, h } from "./dom.js";
import { setExitUrl } from "./quickexit.js";
import { setBrand, show } from "./shell.js";
import { configureSignals } from "./signals.js";

export async function startApp(info) {
  await loadSodium();
  byId("boot")?.remove();
  byId("boot-failed")?.remove();
  if (!info) {
    show("unreachable", unreachableScreen);
    return;
  }
  setExitUrl(info.exit_url);
  if (typeof info.neutral_title === "string" && info.neutral_title.trim()) {
    setBrand(info.neutral_title.trim());
  }
  configureSignals(info, document.title);
  startController(info);
}

function unreachableScreen() {
  return h(
    "section",
    { class: "page page--narrow", "aria-labelledby": "unreachable-title" },
    h("h1", { id: "unreachable-title" }, "Can't reach the service"),
    h("p", { class: "page__lead" }, "Check your connection, then try again."),
    h("button", {
      type: "button",
      class: "button button--primary",
      text: "Try again",
      onClick: () => window.location.reload(),
    }),
  );
}
