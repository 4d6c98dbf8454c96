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
  const submit = h("button", {
    type: "submit",
    class: "button button--primary",
    id: "invite-continue",
    text: "Continue",
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
      submit,
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = input.value.trim();
    error.textContent = "";
    input.removeAttribute("aria-invalid");
    if (!code) {
      input.setAttribute("aria-invalid", "true");
      error.textContent = "Enter the invite code you were given.";
      input.focus();
      return;
    }
    // The code is checked before an account secret is made, and kept in the
    // field when it is refused, so a typing mistake is easy to correct.
    submit.disabled = true;
    submit.textContent = "Checking…";
    form.setAttribute("aria-busy", "true");
    try {
      await onSubmit(code);
    } catch (failure) {
      input.setAttribute("aria-invalid", "true");
      error.textContent = describe(failure);
      input.focus();
      submit.disabled = false;
      submit.textContent = "Continue";
      form.removeAttribute("aria-busy");
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
