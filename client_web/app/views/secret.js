// The account secret, shown once: copy, download as a text file, and a
// check that it was saved before anything continues: the person types one
// group of it back, chosen at random, which a tick box could not ask.
//
// The confirmation is a form with the secret in a new-password field and the
// handle as the username, so that a password manager offers to save it.

import { h } from "../dom.js";
import { describe } from "../wording.js";

// `change` shows a replacement secret (views/changesecret.js) rather than a
// new account's: other title, lead and buttons, the same check.
export function secretScreen(
  ctx,
  { secret, fileName, role, notice, change = false, onContinue, onCancel, onLeave },
) {
  const groups = secret.split("-");
  const asked = randomIndex(groups.length);
  const copyStatus = h("span", { class: "small muted secret__status", role: "status" });
  const error = h("p", { class: "form-error", id: "secret-check-error", role: "alert" });
  const confirm = h("input", {
    class: "input input--mono secret__check",
    id: "secret-check",
    name: "secret-check",
    type: "text",
    autocomplete: "off",
    autocapitalize: "characters",
    spellcheck: false,
    maxLength: 8,
    "aria-describedby": "secret-check-hint secret-check-error",
  });
  const matches = () =>
    confirm.value.trim().toUpperCase().replace(/O/g, "0").replace(/[IL]/g, "1") === groups[asked];
  const continueButton = h("button", {
    type: "submit",
    class: "button button--primary",
    id: "secret-continue",
    text: change
      ? "Change my secret"
      : role === "therapist"
        ? "Create my therapist account"
        : "Continue",
  });
  let downloadUrl = null;
  ctx.onLeave(() => {
    if (downloadUrl) URL.revokeObjectURL(downloadUrl);
    onLeave();
  });

  confirm.addEventListener("input", () => {
    if (matches()) {
      confirm.removeAttribute("aria-invalid");
      error.textContent = "";
    }
  });

  const copyButton = h("button", {
    type: "button",
    class: "button button--secondary",
    id: "secret-copy",
    text: "Copy",
    onClick: async () => {
      try {
        await navigator.clipboard.writeText(secret);
        copyStatus.textContent = "Copied. Paste it somewhere private, then clear your clipboard.";
      } catch {
        copyStatus.textContent =
          "This browser did not allow copying. Select the secret and copy it, or download it.";
      }
    },
  });

  const downloadButton = h("button", {
    type: "button",
    class: "button button--secondary",
    id: "secret-download",
    text: "Download as a file",
    onClick: () => {
      if (downloadUrl) URL.revokeObjectURL(downloadUrl);
      const blob = new Blob([`${secret}\n`], { type: "text/plain;charset=utf-8" });
      downloadUrl = URL.createObjectURL(blob);
      const link = h("a", { href: downloadUrl, download: fileName, class: "visually-hidden" });
      document.body.append(link);
      link.click();
      link.remove();
      copyStatus.textContent =
        "Downloaded. Move the file somewhere private; on a shared device, delete it from Downloads.";
    },
  });

  const form = h(
    "form",
    { class: "stack secret__confirm", novalidate: true, "aria-labelledby": "secret-check-title" },
    // For a password manager only: the handle names the entry, the whole
    // secret is its password. Neither is shown or reachable by Tab.
    h("input", {
      type: "text",
      name: "username",
      autocomplete: "username",
      value: groups.slice(0, 2).join("-"),
      hidden: true,
    }),
    h("input", {
      type: "password",
      name: "password",
      autocomplete: "new-password",
      value: secret,
      class: "visually-hidden",
      tabIndex: -1,
      "aria-hidden": "true",
    }),
    h("h2", { class: "secret__check-title", id: "secret-check-title" }, "Check that you saved it"),
    h(
      "div",
      { class: "field" },
      h("label", {
        class: "field__label",
        htmlFor: "secret-check",
        "data-group": String(asked + 1),
        text: `Type group ${asked + 1} of ${groups.length} of your secret`,
      }),
      h(
        "span",
        { class: "field__hint", id: "secret-check-hint" },
        "From your saved copy, not from this screen: the four characters after " +
          (asked === 0 ? "the start." : `dash number ${asked}.`),
      ),
      confirm,
    ),
    error,
    h(
      "div",
      { class: "row row--between secret__footer" },
      h("button", {
        type: "button",
        class: "button button--quiet",
        text: "Back",
        onClick: onCancel,
      }),
      continueButton,
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!matches()) {
      confirm.setAttribute("aria-invalid", "true");
      error.textContent = `That is not group ${asked + 1}. Look at your saved copy and try again.`;
      confirm.focus();
      return;
    }
    error.textContent = "";
    continueButton.disabled = true;
    continueButton.setAttribute("aria-busy", "true");
    continueButton.textContent = change ? "Re-encrypting your account…" : "Creating your keys…";
    try {
      await onContinue();
    } catch (failure) {
      error.textContent = describe(failure);
      continueButton.disabled = false;
      continueButton.removeAttribute("aria-busy");
      continueButton.textContent = "Try again";
    }
  });

  return h(
    "section",
    { class: "page page--narrow secret", "aria-labelledby": "secret-title" },
    h("h1", { id: "secret-title" }, change ? "Your new account secret" : "Your account secret"),
    notice ? h("p", { class: "notice notice--warning", role: "alert", text: notice }) : null,
    h(
      "p",
      { class: "page__lead" },
      change
        ? "Once you confirm it, this replaces your current secret: the old one stops working " +
            "and your other devices are signed out. Nobody can recover it for you."
        : "This is the only way back into your account, from this device or any other. " +
            "Nobody can recover it for you, not even the practice.",
    ),
    h(
      "div",
      { class: "secret__box" },
      h(
        "p",
        {
          class: "secret__value",
          id: "secret-value",
          "aria-label": `Account secret: ${groups.join(", ")}`,
        },
        groups.map((group) => h("span", { class: "secret__group", text: group })),
      ),
      h("div", { class: "row secret__actions" }, copyButton, downloadButton),
      copyStatus,
    ),
    h(
      "div",
      { class: "notice notice--warning" },
      h("strong", { class: "notice__title" }, "Keep it safe"),
      h(
        "p",
        {},
        "Store it where only you can reach it: a password manager, or on paper somewhere private. " +
          "Anyone who has it can read your messages.",
      ),
    ),
    form,
  );
}

// A uniformly random index below `count`, from the browser's CSPRNG.
function randomIndex(count) {
  const value = new Uint32Array(1);
  crypto.getRandomValues(value);
  return value[0] % count;
}
