// "Not for emergencies", where it can be seen: on the welcome screen and in
// every conversation, on a phone too, not only in the footer. The practice's
// own crisis text (setting `crisis_text`) is shown with it, as text, and the
// support page is one tap away, in a new tab so the conversation stays.

import { h } from "../dom.js";

export function crisisNotice(practiceText, { id = "crisis-notice" } = {}) {
  const text = typeof practiceText === "string" ? practiceText.trim() : "";
  return h(
    "div",
    { class: "notice notice--info crisis", id, role: "note" },
    h("strong", { class: "notice__title", text: "Not for emergencies" }),
    h(
      "p",
      { class: "crisis__text" },
      "Replies can take a while. If you or someone else is in danger now, call your local " +
        "emergency number.",
    ),
    text ? h("p", { class: "crisis__text preserve-lines", dir: "auto", text }) : null,
    h("a", {
      class: "crisis__link",
      href: "/support.html",
      target: "_blank",
      rel: "noopener",
      text: "Urgent support",
    }),
  );
}

// One line for a conversation, where space is short on a phone.
export function crisisLine() {
  return h(
    "p",
    { class: "crisis crisis--line small", id: "crisis-line", role: "note" },
    h("strong", { text: "Not for emergencies." }),
    " If you are in danger now, call your local emergency number. ",
    h("a", { href: "/support.html", target: "_blank", rel: "noopener", text: "Urgent support" }),
  );
}
