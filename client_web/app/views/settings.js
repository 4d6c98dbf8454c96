// Settings: how soon the page locks itself, how new messages are signalled
// (views/notices.js), where the account is signed in (views/sessions.js),
// changing the account secret (views/changesecret.js), signing out, and deleting the account with everything
// the server holds for it.

import { IDLE_LOCK_MAX_MINUTES, IDLE_LOCK_MIN_MINUTES } from "../../lib/constants.js";
import { withinIdleBounds } from "../autolock.js";
import { h } from "../dom.js";
import { idleMinutes, savedIdleMinutes, setIdleMinutes } from "../mutations.js";
import { describe } from "../wording.js";
import { changeSecretCard } from "./changesecret.js";
import { awayNotificationsCard, browserNoticeCard } from "./notices.js";
import { sessionsCard } from "./sessions.js";

const IDLE_CHOICES = [1, 2, 5, 10, 15, 30, 60];

export function settingsScreen(
  _ctx,
  { workspace, notice, onIdleChange, onChangeSecret, onFinishSecretChange, onSignOut, onDelete },
) {
  const current = idleMinutes(workspace);
  const choices = [...new Set([...IDLE_CHOICES, current])].sort((a, b) => a - b);
  const select = h(
    "select",
    { class: "select settings__select", id: "idle-minutes", "aria-describedby": "idle-hint" },
    choices.map((minutes) =>
      h("option", {
        value: String(minutes),
        selected: minutes === current,
        text: minutes === 1 ? "After 1 minute" : `After ${minutes} minutes`,
      }),
    ),
  );
  const idleStatus = h("p", { class: "small muted", role: "status" });
  const saved = savedIdleMinutes(workspace);
  if (saved !== null && !withinIdleBounds(saved)) {
    idleStatus.textContent =
      `The saved lock time (${String(saved)}) is not between ${IDLE_LOCK_MIN_MINUTES} and ` +
      `${IDLE_LOCK_MAX_MINUTES} minutes, so this page locks after ${current} minutes. ` +
      "Choose a time to save a new one.";
  }
  select.addEventListener("change", async () => {
    const minutes = Number(select.value);
    idleStatus.textContent = "";
    try {
      await setIdleMinutes(workspace, minutes);
      onIdleChange(minutes);
      idleStatus.textContent = "Saved for this account, on every device.";
    } catch (failure) {
      idleStatus.textContent = describe(failure);
    }
  });

  const understood = h("input", { type: "checkbox", id: "delete-understood" });
  const deleteButton = h("button", {
    type: "button",
    class: "button button--danger",
    id: "delete-account",
    text: "Delete my account",
    disabled: true,
  });
  const deleteError = h("p", { class: "form-error", role: "alert" });
  understood.addEventListener("change", () => {
    deleteButton.disabled = !understood.checked;
  });
  deleteButton.addEventListener("click", async () => {
    deleteButton.disabled = true;
    deleteButton.textContent = "Deleting…";
    deleteError.textContent = "";
    try {
      await onDelete();
    } catch (failure) {
      deleteError.textContent = describe(failure);
      deleteButton.textContent = "Delete my account";
      deleteButton.disabled = !understood.checked;
    }
  });

  return h(
    "section",
    { class: "page page--narrow settings stack--loose", "aria-labelledby": "settings-title" },
    h("h1", { id: "settings-title" }, "Settings"),
    notice
      ? h("p", {
          class: "notice notice--success",
          id: "settings-notice",
          role: "status",
          text: notice,
        })
      : null,
    h(
      "section",
      { class: "card", "aria-labelledby": "lock-settings-title" },
      h("h2", { class: "card__title", id: "lock-settings-title" }, "Lock automatically"),
      h(
        "p",
        { class: "small muted", id: "idle-hint" },
        "When this page is not used for a while it locks and erases its keys. " +
          "Unlocking needs your account secret.",
      ),
      h(
        "div",
        { class: "field" },
        h("label", { class: "field__label", htmlFor: "idle-minutes", text: "Lock this page" }),
        select,
      ),
      idleStatus,
    ),
    workspace.role === "therapist" ? awayNotificationsCard(workspace) : null,
    browserNoticeCard(workspace),
    sessionsCard(workspace),
    changeSecretCard(workspace, { onChange: onChangeSecret, onFinish: onFinishSecretChange }),
    h(
      "section",
      { class: "card", "aria-labelledby": "signout-title" },
      h("h2", { class: "card__title", id: "signout-title" }, "Sign out"),
      h(
        "p",
        { class: "small muted" },
        "Ends this sign-in and erases everything this page holds. Your conversations stay in your account.",
      ),
      h("button", {
        type: "button",
        class: "button button--secondary",
        id: "sign-out",
        text: "Sign out",
        onClick: onSignOut,
      }),
    ),
    h(
      "section",
      { class: "card card--danger", "aria-labelledby": "delete-title" },
      h("h2", { class: "card__title", id: "delete-title" }, "Delete account"),
      h(
        "p",
        {},
        workspace.role === "therapist"
          ? "This deletes your account, your profile, your notes and every conversation from " +
              "the server, for good. Clients will no longer see you in the directory."
          : "This deletes your account and every conversation from the server, for good. " +
              "Your therapist keeps only what they already received.",
      ),
      h(
        "p",
        { class: "notice notice--danger" },
        "This cannot be undone, and nobody can restore it.",
      ),
      h(
        "label",
        { class: "checkbox", htmlFor: "delete-understood" },
        understood,
        h("span", {}, "I understand that my account and messages will be deleted for good."),
      ),
      deleteError,
      h("div", { class: "row" }, deleteButton),
    ),
  );
}
