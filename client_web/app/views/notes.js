// A therapist's panel beside a conversation: private notes about the client,
// encrypted for the therapist alone (a vault item), and the block control.
// The conversation is told when the block changes, to show or drop its notice.
//
// Notes save themselves: a moment after the typing stops, and at once when
// the conversation is left. Until a save has succeeded the text is also kept
// in the workspace's memory (`unsavedNotes`), so a failed save or a quick
// return shows what was typed, never an older note.

import { h } from "../dom.js";
import { loadBlocks, saveNote, setBlocked, setPrivateName } from "../mutations.js";
import { clientLabel, noteItem } from "../records.js";
import { announce } from "../shell.js";
import { privateName } from "../threads.js";
import { describe } from "../wording.js";

const AUTOSAVE_MS = 1500;
const PRIVATE_NAME_CHARS = 80;

export function notesPanel({ workspace, peer, onBlocked, onLeave }) {
  let blocked = false;
  const existing = noteItem(workspace.vault, peer);
  const unsaved = workspace.unsavedNotes.get(peer);
  const area = h("textarea", {
    class: "textarea notes__input",
    id: "notes",
    dir: "auto",
    rows: 8,
    value: unsaved ?? existing?.data.body ?? "",
    "aria-describedby": "notes-hint",
  });
  const status = h("span", {
    class: "small muted",
    id: "notes-status",
    role: "status",
    text: unsaved === undefined ? "" : "Not saved yet.",
  });
  const save = h("button", {
    type: "button",
    class: "button button--secondary button--small",
    id: "save-notes",
    text: "Save notes",
  });
  let timer = null;
  let saving = null;
  async function saveNow() {
    clearTimeout(timer);
    timer = null;
    // One save at a time, in order: the last text typed is the one stored.
    while (saving) await saving;
    const body = workspace.unsavedNotes.get(peer);
    if (body === undefined) return;
    status.textContent = "Saving…";
    saving = saveNote(workspace, peer, body)
      .then(() => {
        if (workspace.unsavedNotes.get(peer) === body) {
          workspace.unsavedNotes.delete(peer);
          status.textContent = "Saved.";
        }
      })
      .catch((failure) => {
        status.textContent = `Not saved: ${describe(failure)}`;
      })
      .finally(() => {
        saving = null;
      });
    await saving;
  }
  area.addEventListener("input", () => {
    workspace.unsavedNotes.set(peer, area.value);
    status.textContent = "Not saved yet.";
    clearTimeout(timer);
    timer = setTimeout(saveNow, AUTOSAVE_MS);
  });
  save.addEventListener("click", async () => {
    save.disabled = true;
    try {
      await saveNow();
    } finally {
      save.disabled = false;
    }
  });
  // Leaving the conversation saves at once; the workspace outlives the screen.
  onLeave(() => {
    if (workspace.unsavedNotes.has(peer)) saveNow();
  });
  workspace.savers.add(saveNow);
  onLeave(() => workspace.savers.delete(saveNow));
  // Notes saved on another device show here live (the vault synced after a
  // `vault_changed` push), unless this device holds unsaved text of its own:
  // what the person typed here is never overwritten.
  const showStored = () => {
    if (saving || workspace.unsavedNotes.has(peer)) return;
    const stored = noteItem(workspace.vault, peer)?.data.body ?? "";
    if (area.value !== stored) area.value = stored;
  };
  workspace.events.addEventListener("change", showStored);
  onLeave(() => workspace.events.removeEventListener("change", showStored));
  const nameInput = h("input", {
    class: "input",
    id: "private-name",
    type: "text",
    dir: "auto",
    autocomplete: "off",
    maxLength: PRIVATE_NAME_CHARS,
    value: privateName(workspace, peer),
    "aria-describedby": "private-name-hint",
  });
  const nameStatus = h("span", { class: "small muted", id: "private-name-status", role: "status" });
  const nameForm = h(
    "form",
    { class: "stack--tight private-name", novalidate: true },
    h("label", {
      class: "field__label",
      htmlFor: "private-name",
      text: "Your name for this client",
    }),
    h(
      "span",
      { class: "field__hint", id: "private-name-hint" },
      `Only you see it, instead of “${clientLabel(peer)}”. It is encrypted on this device.`,
    ),
    h(
      "div",
      { class: "row" },
      nameInput,
      h("button", {
        type: "submit",
        class: "button button--secondary button--small",
        id: "save-private-name",
        text: "Save name",
      }),
    ),
    nameStatus,
  );
  nameForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    nameStatus.textContent = "Saving…";
    try {
      await setPrivateName(workspace, peer, nameInput.value);
      nameStatus.textContent = "Saved.";
    } catch (failure) {
      nameStatus.textContent = `Not saved: ${describe(failure)}`;
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
      nameForm,
      h(
        "p",
        { class: "small muted", id: "notes-hint" },
        "Only you can read these. They are encrypted on this device and saved as you type.",
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
