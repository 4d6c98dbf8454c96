// Small vault changes made from the screens (notes, contact verification,
// settings) and the therapist's block list. Each vault change is a single
// compare-and-swap write; on a conflict the vault is synced and the change
// made again on top of what another device wrote.

import { request } from "./api.js";
import { nowSeconds } from "./ids.js";
import { contactItem, noteItem, settingsItem } from "./records.js";

const MAX_ROUNDS = 4;

async function change(ws, build) {
  for (let round = 0; round < MAX_ROUNDS; round += 1) {
    const record = build();
    if (!record) return;
    try {
      await ws.vault.commit([record]);
      return;
    } catch (error) {
      if (error.code !== "vault_conflict") throw error;
      await ws.vault.sync();
    }
  }
  throw Object.assign(new Error("conflict"), { code: "vault_conflict" });
}

export async function saveNote(ws, peer, body) {
  await change(ws, () => {
    const item = noteItem(ws.vault, peer);
    return ws.vault.write(item?.id ?? null, {
      ...(item?.data ?? {}),
      kind: "note",
      peer,
      body,
      updated: nowSeconds(),
    });
  });
  ws.emit(peer);
}

export async function setVerified(ws, peer, verified, label) {
  await change(ws, () => {
    const item = contactItem(ws.vault, peer);
    return ws.vault.write(item?.id ?? null, {
      label,
      ...(item?.data ?? {}),
      kind: "contact",
      peer,
      verified,
    });
  });
  ws.emit(peer);
}

export function idleMinutes(ws) {
  const value = settingsItem(ws.vault)?.data.idle_minutes;
  return Number.isInteger(value) ? value : ws.info.idle_lock_minutes;
}

export async function setIdleMinutes(ws, minutes) {
  await change(ws, () => {
    const item = settingsItem(ws.vault);
    return ws.vault.write(item?.id ?? null, {
      ...(item?.data ?? {}),
      kind: "settings",
      idle_minutes: minutes,
    });
  });
}

export async function loadBlocks(ws) {
  const answer = await request("GET", "/api/blocks", { token: ws.token() });
  return new Set(Array.isArray(answer.blocked) ? answer.blocked : []);
}

export async function setBlocked(ws, peer, blocked) {
  await request(blocked ? "PUT" : "DELETE", `/api/blocks/${encodeURIComponent(peer)}`, {
    token: ws.token(),
  });
}
