// Small vault changes made from the screens (notes, contact verification,
// settings) and the therapist's block list. Each vault change is a single
// compare-and-swap write; on a conflict the vault is synced and the change
// made again on top of what another device wrote.

import { request } from "./api.js";
import { nowSeconds } from "./ids.js";
import { contactItem, noteItem, settingsItem } from "./records.js";

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
