// Shown once after an account was deleted.

import { h } from "../dom.js";

export function deletedScreen(_ctx, { onDone }) {
  return h(
    "section",
    { class: "page page--narrow", "aria-labelledby": "deleted-title" },
    h("h1", { id: "deleted-title" }, "Your account has been deleted"),
    h(
      "p",
      { class: "page__lead" },
      "Everything the server held for it is gone, and this page has erased its keys. " +
        "If you saved your account secret somewhere, you can destroy it now.",
    ),
    h("button", {
      type: "button",
      class: "button button--primary",
      text: "Back to the start",
      onClick: onDone,
    }),
  );
}
