// Small vault changes made from the screens (notes, contact verification,
// settings) and the therapist's block list. Each vault change is a single
// compare-and-swap write, made again on top of what another device wrote
// when it conflicts (vaultstore.js's retryOnConflict).

import { IDLE_LOCK_DEFAULT_MINUTES } from "../lib/constants.js";
import { request } from "./api.js";
import { withinIdleBounds } from "./autolock.js";
import { nowSeconds } from "./ids.js";
import { contactItem, draftItem, noteItem, settingsItem } from "./records.js";
import { retryOnConflict } from "./vaultstore.js";

// `build` returns the record to commit, or null when there is nothing to change.
function change(workspace, build) {
  return retryOnConflict(async () => {
    const record = build();
    if (record) await workspace.vault.commit([record]);
  }, workspace.vault.sync);
}

export async function saveNote(workspace, peer, body) {
  await change(workspace, () => {
    const item = noteItem(workspace.vault, peer);
    return workspace.vault.write(item?.id ?? null, {
      ...(item?.data ?? {}),
      kind: "note",
      peer,
      body,
      updated: nowSeconds(),
    });
  });
  workspace.emit(peer);
}

// The composer's unsent text for one conversation; an empty text removes it.
export async function saveDraft(workspace, peer, body) {
  await change(workspace, () => {
    const item = draftItem(workspace.vault, peer);
    if (!body) return item ? workspace.vault.remove(item.id) : null;
    if (item?.data.body === body) return null;
    return workspace.vault.write(item?.id ?? null, {
      ...(item?.data ?? {}),
      kind: "draft",
      peer,
      body,
      updated: nowSeconds(),
    });
  });
}

// Marks a conversation closed in its contact item: the other account is
// gone, so nothing more can be sent, on any device of this account.
export async function closeConversation(workspace, peer) {
  await change(workspace, () => {
    const item = contactItem(workspace.vault, peer);
    if (item?.data.closed === true) return null;
    return workspace.vault.write(item?.id ?? null, {
      ...(item?.data ?? {}),
      kind: "contact",
      peer,
      closed: true,
    });
  });
  workspace.emit(peer);
}

// The name a therapist gives a client, for themselves alone: kept in the
// contact item, encrypted in the vault like everything else. Empty removes it.
export async function setPrivateName(workspace, peer, name) {
  const value = name.trim();
  await change(workspace, () => {
    const item = contactItem(workspace.vault, peer);
    if ((item?.data.name ?? "") === value) return null;
    const { name: _old, ...rest } = item?.data ?? {};
    return workspace.vault.write(item?.id ?? null, {
      ...rest,
      kind: "contact",
      peer,
      ...(value ? { name: value } : {}),
    });
  });
  workspace.emit(peer);
}

export async function setVerified(workspace, peer, verified, label) {
  await change(workspace, () => {
    const item = contactItem(workspace.vault, peer);
    return workspace.vault.write(item?.id ?? null, {
      label,
      ...(item?.data ?? {}),
      kind: "contact",
      peer,
      verified,
    });
  });
  workspace.emit(peer);
}

// The person's own choice, or the practice's default when they made none or
// theirs is outside the bounds (the settings screen then says so).
export function idleMinutes(workspace) {
  const chosen = savedIdleMinutes(workspace);
  if (withinIdleBounds(chosen)) return chosen;
  const practice = workspace.info.idle_lock_minutes;
  return withinIdleBounds(practice) ? practice : IDLE_LOCK_DEFAULT_MINUTES;
}

export function savedIdleMinutes(workspace) {
  return settingsItem(workspace.vault)?.data.idle_minutes ?? null;
}

export async function setIdleMinutes(workspace, minutes) {
  await change(workspace, () => {
    const item = settingsItem(workspace.vault);
    return workspace.vault.write(item?.id ?? null, {
      ...(item?.data ?? {}),
      kind: "settings",
      idle_minutes: minutes,
    });
  });
}

// Whether this account wants a browser notification for a new message while
// the page is open (the browser's own permission is asked for separately).
export function browserNotices(workspace) {
  return settingsItem(workspace.vault)?.data.browser_notices === true;
}

export async function setBrowserNotices(workspace, on) {
  await change(workspace, () => {
    const item = settingsItem(workspace.vault);
    return workspace.vault.write(item?.id ?? null, {
      ...(item?.data ?? {}),
      kind: "settings",
      browser_notices: on,
    });
  });
}

export async function loadBlocks(workspace) {
  const answer = await request("GET", "/api/blocks", { token: workspace.token() });
  return new Set(Array.isArray(answer.blocked) ? answer.blocked : []);
}

export async function setBlocked(workspace, peer, blocked) {
  await request(blocked ? "PUT" : "DELETE", `/api/blocks/${encodeURIComponent(peer)}`, {
    token: workspace.token(),
  });
}
