// The account-secret form used to sign in and to unlock. It never stores the
// value anywhere: on submit the text goes to the handler and the field is
// emptied once the handler succeeds.
//
// The secret is typed into a password field (not readable over a shoulder)
// marked current-password, beside a hidden username field, so a password
// manager that saved the secret when the account was made fills it in.

import { h } from "../dom.js";
import { describe } from "../wording.js";

export function secretForm({ submitLabel, inputId, onSubmit, busyLabel = "Checking…" }) {
  const hintId = `${inputId}-hint`;
  const errorId = `${inputId}-error`;
  const input = h("input", {
    class: "input input--mono",
    id: inputId,
    name: "password",
    type: "password",
    autocomplete: "current-password",
    autocapitalize: "characters",
    spellcheck: false,
    "aria-describedby": `${hintId} ${errorId}`,
    required: true,
  });
  const error = h("p", { class: "form-error", id: errorId, role: "alert" });
  const button = h("button", {
    type: "submit",
    class: "button button--primary",
    text: submitLabel,
  });
  const form = h(
    "form",
    { class: "stack", novalidate: true },
    h("input", { type: "text", name: "username", autocomplete: "username", hidden: true }),
    h(
      "div",
      { class: "field" },
      h("label", { class: "field__label", htmlFor: inputId, text: "Account secret" }),
      h(
        "span",
        { class: "field__hint", id: hintId },
        "24 letters and numbers, for example ABCD-EFGH-JKMN-PQRS-TVWX-YZ12. Dashes and spaces are optional.",
      ),
      input,
    ),
    error,
    h("div", { class: "row" }, button),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    input.removeAttribute("aria-invalid");
    button.disabled = true;
    button.textContent = busyLabel;
    form.setAttribute("aria-busy", "true");
    try {
      await onSubmit(input.value);
      input.value = "";
    } catch (failure) {
      input.setAttribute("aria-invalid", "true");
      error.textContent = describe(failure);
      input.focus();
    } finally {
      button.disabled = false;
      button.textContent = submitLabel;
      form.removeAttribute("aria-busy");
    }
  });
  return form;
}
