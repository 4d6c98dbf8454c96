// The lock screen: the page has erased its keys; the account secret opens it
// again.

import { h } from "../dom.js";
import { secretForm } from "./secretform.js";

const REASONS = {
  idle:
    "This page locked after a while without activity and erased its keys. Anything you were " +
    "writing was kept, encrypted, and is back where you left it when you unlock.",
  expired: "Your sign-in ended, so this page locked and erased its keys.",
  signed_out:
    "Another device of this account signed this one out, so this page locked and erased its keys. " +
    "If that was not you, sign in and change your account secret.",
  manual: "This page is locked and its keys are erased.",
};

export function lockScreen(_ctx, { reason, lostUnsent, onUnlock, onLeave }) {
  return h(
    "section",
    { class: "page page--narrow lock", "aria-labelledby": "lock-title" },
    h(
      "div",
      { class: "lock__mark", "aria-hidden": "true" },
      h("span", { class: "lock__shackle" }),
      h("span", { class: "lock__body" }),
    ),
    h("h1", { id: "lock-title", class: "lock__title" }, "Locked"),
    h(
      "p",
      { class: "page__lead lock__lead" },
      `${REASONS[reason] ?? REASONS.manual} Enter your account secret to continue.`,
    ),
    lostUnsent
      ? h(
          "p",
          { class: "notice notice--warning" },
          "A message that had not been sent yet was erased with the keys. " +
            "Please write it again after unlocking.",
        )
      : null,
    h(
      "div",
      { class: "card" },
      secretForm({
        submitLabel: "Unlock",
        inputId: "unlock-secret",
        onSubmit: onUnlock,
        busyLabel: "Unlocking…",
      }),
    ),
    h(
      "p",
      { class: "small lock__leave" },
      h("button", {
        type: "button",
        class: "link-button",
        text: "Use a different account",
        onClick: onLeave,
      }),
    ),
  );
}
