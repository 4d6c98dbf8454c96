// An invite code: a therapist joining, or a client where the practice takes
// new clients by invitation only.

import { h } from "../dom.js";
import { describe } from "../wording.js";

export function joinScreen(_ctx, { role, error: initialError, onSubmit, onCancel }) {
  const therapist = role === "therapist";
  const input = h("input", {
    class: "input input--mono",
    id: "invite-code",
    name: "invite",
    type: "text",
    autocomplete: "off",
    spellcheck: false,
    required: true,
    "aria-describedby": "invite-hint invite-error",
  });
  const error = h("p", {
    class: "form-error",
    id: "invite-error",
    role: "alert",
    text: initialError,
  });
  const form = h(
    "form",
    { class: "card stack", novalidate: true },
    h(
      "div",
      { class: "field" },
      h("label", { class: "field__label", htmlFor: "invite-code", text: "Invite code" }),
      h(
        "span",
        { class: "field__hint", id: "invite-hint" },
        therapist
          ? "From the practice's administrator. It works once."
          : "The practice gave you this code. It works once.",
      ),
      input,
    ),
    error,
    h(
      "div",
      { class: "row row--between" },
      h("button", {
        type: "button",
        class: "button button--quiet",
        text: "Back",
        onClick: onCancel,
      }),
      h("button", { type: "submit", class: "button button--primary", text: "Continue" }),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const code = input.value.trim();
    if (!code) {
      input.setAttribute("aria-invalid", "true");
      error.textContent = "Enter the invite code you were given.";
      input.focus();
      return;
    }
    try {
      onSubmit(code);
    } catch (failure) {
      error.textContent = describe(failure);
    }
  });
  return h(
    "section",
    { class: "page page--narrow", "aria-labelledby": "join-title" },
    h("h1", { id: "join-title" }, therapist ? "Join as a therapist" : "Your invite code"),
    h(
      "p",
      { class: "page__lead" },
      therapist
        ? "Your keys are made on this device. You will get an account secret to sign in from any " +
            "computer, then write the profile clients see."
        : "This practice takes new clients by invitation. Enter the code you were given; nothing " +
            "else about you is asked.",
    ),
    form,
  );
}
