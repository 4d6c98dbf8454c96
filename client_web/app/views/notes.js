// A therapist's panel beside a conversation: private notes about the client,
// encrypted for the therapist alone (a vault item), and the block control.
// The conversation is told when the block changes, to show or drop its notice.

import { h } from "../dom.js";
import { loadBlocks, saveNote, setBlocked } from "../mutations.js";
import { noteItem } from "../records.js";
import { announce } from "../shell.js";
import { describe } from "../wording.js";

export function notesPanel({ workspace, peer, onBlocked, onLeave }) {
  let blocked = false;
  // The notes as last loaded or saved here: while the text area still holds
  // them unchanged, notes saved on another device replace them live; once
  // the person has typed, their text is never overwritten.
  let shown = noteItem(workspace.vault, peer)?.data.body ?? "";
  const area = h("textarea", {
    class: "textarea notes__input",
    id: "notes",
    rows: 8,
    value: shown,
    "aria-describedby": "notes-hint",
  });
  const onChange = () => {
    const stored = noteItem(workspace.vault, peer)?.data.body ?? "";
    if (stored === shown || area.value !== shown) return;
    area.value = stored;
    shown = stored;
  };
  workspace.events.addEventListener("change", onChange);
  onLeave(() => workspace.events.removeEventListener("change", onChange));
  const status = h("span", { class: "small muted", role: "status" });
  const save = h("button", {
    type: "button",
    class: "button button--secondary button--small",
    id: "save-notes",
    text: "Save notes",
  });
  save.addEventListener("click", async () => {
    save.disabled = true;
    status.textContent = "Saving…";
    try {
      const saving = area.value;
      await saveNote(workspace, peer, saving);
      shown = saving;
      status.textContent = "Saved.";
    } catch (failure) {
      status.textContent = describe(failure);
    } finally {
      save.disabled = false;
    }
  });
  const blockButton = h("button", {
    type: "button",
    class: "button button--danger-outline button--small",
    id: "block",
  });
  const confirmBox = h("div", { class: "confirm", hidden: true });
  const blockStatus = h("p", { class: "small muted", role: "status" });
  const renderBlock = () => {
    blockButton.textContent = blocked ? "Unblock client" : "Block client";
  };
  blockButton.addEventListener("click", async () => {
    if (!blocked) {
      confirmBox.hidden = false;
      confirmBox.querySelector("button")?.focus();
      return;
    }
    await changeBlock(false);
  });
  async function changeBlock(value) {
    blockStatus.textContent = "";
    try {
      await setBlocked(workspace, peer, value);
      blocked = value;
      onBlocked(value);
      blockStatus.textContent = value ? "Blocked." : "Unblocked.";
      announce(value ? "Client blocked." : "Client unblocked.");
    } catch (failure) {
      blockStatus.textContent = describe(failure);
    }
    confirmBox.hidden = true;
    renderBlock();
  }
  confirmBox.append(
    h(
      "p",
      {},
      "Block this client? They will not be able to send you messages. You can unblock them at any time.",
    ),
    h(
      "div",
      { class: "row" },
      h("button", {
        type: "button",
        class: "button button--danger button--small",
        id: "confirm-block",
        text: "Block",
        onClick: () => changeBlock(true),
      }),
      h("button", {
        type: "button",
        class: "button button--quiet button--small",
        text: "Cancel",
        onClick: () => {
          confirmBox.hidden = true;
          blockButton.focus();
        },
      }),
    ),
  );
  loadBlocks(workspace)
    .then((found) => {
      blocked = found.has(peer);
      renderBlock();
      onBlocked(blocked);
    })
    .catch(() => {});
  renderBlock();
  return h(
    "aside",
    { class: "thread__aside stack", "aria-label": "About this client" },
    h(
      "section",
      { class: "card notes", "aria-labelledby": "notes-title" },
      h("h2", { class: "card__title", id: "notes-title" }, "Private notes"),
      h(
        "p",
        { class: "small muted", id: "notes-hint" },
        "Only you can read these. They are encrypted on this device before they are stored.",
      ),
      h("label", {
        class: "visually-hidden",
        htmlFor: "notes",
        text: "Private notes about this client",
      }),
      area,
      h("div", { class: "row row--between notes__bar" }, status, save),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "block-title" },
      h("h2", { class: "card__title", id: "block-title" }, "Conversation"),
      h(
        "p",
        { class: "small muted" },
        "Blocking stops this client's new messages. Nothing is deleted.",
      ),
      blockButton,
      confirmBox,
      blockStatus,
    ),
  );
}
