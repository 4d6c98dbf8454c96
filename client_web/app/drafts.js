// What is being written in each conversation's composer. It is kept in
// memory while the person moves between screens, and a moment after the
// typing stops it is stored, encrypted, in the vault (a `draft` item), so that
// an auto-lock or a closed tab does not erase a half-written message: after
// signing in again it is back in the composer. Sending empties it.
//
// Quick exit does not wait for a save: what was typed in the last moment
// before it is gone, as the person asked.

import { saveDraft } from "./mutations.js";

const SAVE_AFTER_MS = 2000;

export function createDrafts(workspace) {
  const texts = new Map();
  const unsaved = new Set();
  let timer = null;
  let saving = Promise.resolve();

  for (const item of workspace.vault.list("draft")) {
    if (typeof item.data.peer === "string" && typeof item.data.body === "string") {
      texts.set(item.data.peer, item.data.body);
    }
  }

  // Saves every changed draft, one after another; resolves when done.
  function flush() {
    clearTimeout(timer);
    timer = null;
    const peers = [...unsaved];
    unsaved.clear();
    saving = saving.then(async () => {
      for (const peer of peers) {
        try {
          await saveDraft(workspace, peer, texts.get(peer) ?? "");
        } catch {
          // Kept in memory and tried again with the next change or lock.
          unsaved.add(peer);
        }
      }
    });
    return saving;
  }

  function changed(peer) {
    unsaved.add(peer);
    clearTimeout(timer);
    timer = setTimeout(flush, SAVE_AFTER_MS);
  }

  return {
    get: (peer) => texts.get(peer),
    set(peer, body) {
      texts.set(peer, body);
      changed(peer);
    },
    // Sent: the stored draft goes at once, so no device offers it again.
    delete(peer) {
      texts.delete(peer);
      unsaved.add(peer);
      flush();
    },
    flush,
    clear() {
      clearTimeout(timer);
      timer = null;
      texts.clear();
      unsaved.clear();
    },
  };
}
