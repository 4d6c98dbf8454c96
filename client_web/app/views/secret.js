// The account secret, shown once: copy, download as a text file, and a
// confirmation that it was saved before anything continues.

import { h } from "../dom.js";
import { describe } from "../wording.js";

export function secretScreen(
  ctx,
  { secret, fileName, role, notice, onContinue, onCancel, onLeave },
) {
  const groups = secret.split("-");
  const copyStatus = h("span", { class: "small muted secret__status", role: "status" });
  const error = h("p", { class: "form-error", role: "alert" });
  const confirm = h("input", { type: "checkbox", id: "secret-saved" });
  const continueButton = h("button", {
    type: "button",
    class: "button button--primary",
    id: "secret-continue",
    text: role === "therapist" ? "Create my therapist account" : "Continue",
    disabled: true,
  });
  let downloadUrl = null;
  ctx.onLeave(() => {
    if (downloadUrl) URL.revokeObjectURL(downloadUrl);
    onLeave();
  });

  confirm.addEventListener("change", () => {
    continueButton.disabled = !confirm.checked;
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

  continueButton.addEventListener("click", async () => {
    error.textContent = "";
    continueButton.disabled = true;
    continueButton.setAttribute("aria-busy", "true");
    continueButton.textContent = "Creating your keys…";
    try {
      await onContinue();
    } catch (failure) {
      error.textContent = describe(failure);
      continueButton.disabled = !confirm.checked;
      continueButton.removeAttribute("aria-busy");
      continueButton.textContent = "Try again";
    }
  });

  return h(
    "section",
    { class: "page page--narrow secret", "aria-labelledby": "secret-title" },
    h("h1", { id: "secret-title" }, "Your account secret"),
    notice ? h("p", { class: "notice notice--warning", role: "alert", text: notice }) : null,
    h(
      "p",
      { class: "page__lead" },
      "This is the only way back into your account, from this device or any other. " +
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
    h(
      "label",
      { class: "checkbox", htmlFor: "secret-saved" },
      confirm,
      h("span", {}, "I have saved my account secret somewhere safe."),
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
}
