// Small vault changes made from the screens (notes, contact verification,
// settings) and the therapist's block list. Each vault change is a single
// compare-and-swap write; on a conflict the vault is synced and the change
// made again on top of what another device wrote.

import { request } from "./api.js";
import { nowSeconds } from "./ids.js";
import { contactItem, draftItem, noteItem, settingsItem } from "./records.js";

const MAX_ROUNDS = 4;

async function change(workspace, build) {
  for (let round = 0; round < MAX_ROUNDS; round += 1) {
    const record = build();
    if (!record) return;
    try {
      await workspace.vault.commit([record]);
      return;
    } catch (error) {
      if (error.code !== "vault_conflict") throw error;
      await workspace.vault.sync();
    }
  }
  throw Object.assign(new Error("conflict"), { code: "vault_conflict" });
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

export function idleMinutes(workspace) {
  const value = settingsItem(workspace.vault)?.data.idle_minutes;
  return Number.isInteger(value) ? value : workspace.info.idle_lock_minutes;
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

export async function loadBlocks(workspace) {
  const answer = await request("GET", "/api/blocks", { token: workspace.token() });
  return new Set(Array.isArray(answer.blocked) ? answer.blocked : []);
}

export async function setBlocked(workspace, peer, blocked) {
  await request(blocked ? "PUT" : "DELETE", `/api/blocks/${encodeURIComponent(peer)}`, {
    token: workspace.token(),
  });
}
