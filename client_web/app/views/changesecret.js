// Changing the account secret (PROTOCOL.md section 9.1): the Settings card
// that starts it, or offers to finish or cancel one that was interrupted,
// and the screen that asks for the current secret (and, to finish an
// interrupted change, the new one). The new secret itself is shown once by
// views/secret.js, with the same typed-back check as at sign-up.

import { h } from "../dom.js";
import { cancelSecretChange, secretChangePending } from "../secretchange.js";
import { describe } from "../wording.js";

export function changeSecretCard(workspace, { onChange, onFinish }) {
  const waiting = h("div", { class: "stack", id: "secret-change-waiting" });
  const status = h("p", { class: "small muted", role: "status" });

  async function refresh() {
    waiting.replaceChildren();
    try {
      if (!(await secretChangePending(workspace.token()))) return;
    } catch (failure) {
      status.textContent = describe(failure);
      return;
    }
    const cancel = h("button", {
      type: "button",
      class: "button button--quiet",
      id: "cancel-secret-change",
      text: "Cancel it",
    });
    cancel.addEventListener("click", async () => {
      cancel.disabled = true;
      try {
        await cancelSecretChange(workspace.token());
        status.textContent = "Cancelled. Your current secret stays the one that works.";
        await refresh();
      } catch (failure) {
        cancel.disabled = false;
        status.textContent = describe(failure);
      }
    });
    waiting.append(
      h(
        "p",
        { class: "notice notice--warning" },
        "A change of your secret was started and not finished, so your current secret still " +
          "works. Finish it with the new secret you saved, or cancel it.",
      ),
      h(
        "div",
        { class: "row" },
        h("button", {
          type: "button",
          class: "button button--secondary",
          id: "finish-secret-change",
          text: "Finish the change",
          onClick: onFinish,
        }),
        cancel,
      ),
    );
  }

  refresh();
  return h(
    "section",
    { class: "card", "aria-labelledby": "change-secret-title" },
    h("h2", { class: "card__title", id: "change-secret-title" }, "Change your account secret"),
    h(
      "p",
      { class: "small muted" },
      "If someone may have seen your secret, replace it. You get a new secret, everything in " +
        "your account is locked with it, every other device is signed out, and the old secret " +
        "stops working.",
    ),
    waiting,
    status,
    h(
      "div",
      { class: "row" },
      h("button", {
        type: "button",
        class: "button button--secondary",
        id: "change-secret",
        text: "Change my secret",
        onClick: onChange,
      }),
    ),
  );
}

function secretField(id, label, hint) {
  return h(
    "div",
    { class: "field" },
    h("label", { class: "field__label", htmlFor: id, text: label }),
    h("span", { class: "field__hint", id: `${id}-hint`, text: hint }),
    h("input", {
      class: "input input--mono",
      id,
      name: id,
      type: "password",
      autocomplete: "off",
      autocapitalize: "characters",
      spellcheck: false,
      required: true,
      "aria-describedby": `${id}-hint change-secret-error`,
    }),
  );
}

// `finish`: the new secret is typed too, to finish an interrupted change.
export function changeSecretScreen(_ctx, { finish, onSubmit, onCancel }) {
  const error = h("p", { class: "form-error", id: "change-secret-error", role: "alert" });
  const submit = h("button", {
    type: "submit",
    class: "button button--primary",
    id: "change-secret-continue",
    text: finish ? "Finish the change" : "Continue",
  });
  const form = h(
    "form",
    { class: "stack", novalidate: true, "aria-labelledby": "change-secret-heading" },
    secretField(
      "current-secret",
      "Your current account secret",
      "The one you signed in with. A device left signed in is not enough to change it.",
    ),
    finish
      ? secretField(
          "new-secret",
          "The new secret you saved",
          "The one the unfinished change showed you.",
        )
      : null,
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
    const current = form.elements["current-secret"].value;
    const typedNew = finish ? form.elements["new-secret"].value : null;
    error.textContent = "";
    submit.disabled = true;
    submit.setAttribute("aria-busy", "true");
    submit.textContent = finish ? "Re-encrypting your account…" : "Checking…";
    try {
      await onSubmit(current, typedNew);
    } catch (failure) {
      error.textContent = describe(failure);
      submit.disabled = false;
      submit.removeAttribute("aria-busy");
      submit.textContent = finish ? "Finish the change" : "Continue";
      form.elements["current-secret"].focus();
    }
  });
  return h(
    "section",
    { class: "page page--narrow stack", "aria-labelledby": "change-secret-heading" },
    h("h1", { id: "change-secret-heading" }, "Change your account secret"),
    h(
      "p",
      { class: "page__lead" },
      finish
        ? "Type both secrets to finish the change that was interrupted. Nothing is lost either way."
        : "You will get a new secret to save. Then everything in your account is locked with it, " +
            "your other devices are signed out and the old secret stops working.",
    ),
    form,
  );
}
