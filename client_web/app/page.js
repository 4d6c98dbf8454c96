// The small script of the information pages (help.html, support.html): the
// quick exit, the practice's neutral title and, on the support page, the
// practice's own text. Links back to the start page replace this history
// entry, so the site does not pile up entries that survive a quick exit.

import { installQuickExit, setExitUrl } from "./quickexit.js";

installQuickExit(document.querySelectorAll("[data-quick-exit]"));

for (const link of document.querySelectorAll("a[data-replace]")) {
  link.addEventListener("click", (event) => {
    event.preventDefault();
    window.location.replace(link.href);
  });
}

async function applyPracticeSettings() {
  const response = await fetch("/api/info", { credentials: "omit", cache: "no-store" });
  if (!response.ok) return;
  const info = await response.json();
  if (typeof info.exit_url === "string") setExitUrl(info.exit_url);
  if (typeof info.neutral_title === "string" && info.neutral_title.trim()) {
    document.title = info.neutral_title;
    for (const element of document.querySelectorAll("[data-neutral-title]")) {
      element.textContent = info.neutral_title;
    }
  }
  const text = typeof info.crisis_text === "string" ? info.crisis_text.trim() : "";
  const section = document.getElementById("practice-support");
  if (section && text) {
    document.getElementById("practice-support-text").textContent = text;
    section.hidden = false;
  }
}

applyPracticeSettings().catch(() => {
  // The defaults in the page stay: a neutral title and a working exit.
});
