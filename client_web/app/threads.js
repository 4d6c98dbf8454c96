// Conversations as the screens show them, read from the vault's message items
// and the outbox: the list of threads by last activity with unread counts,
// and the messages of one thread in order.

import { clientCode, clientLabel, contactItem } from "./records.js";

// A therapist sees the private name they gave a client, else the client's
// label; a client sees the therapist's published name.
export function peerName(workspace, peer) {
  if (workspace.role === "therapist") {
    const name = privateName(workspace, peer);
    return name || clientLabel(peer);
  }
  const listed = workspace.directory.find((therapist) => therapist.account === peer);
  if (listed) return listed.profile.display_name;
  const label = contactItem(workspace.vault, peer)?.data.label;
  if (typeof label === "string" && label.trim()) return label;
  return "Therapist";
}

// The name a therapist gave a client, kept in the contact vault item.
export function privateName(workspace, peer) {
  const name = contactItem(workspace.vault, peer)?.data.name;
  return typeof name === "string" ? name.trim() : "";
}

// The avatar's letters: the initials of a name, or for an unnamed client two
// symbols of their code (every label starts with "Client").
export function peerInitials(workspace, peer) {
  if (workspace.role === "therapist" && !privateName(workspace, peer)) {
    return clientCode(peer).slice(0, 2);
  }
  return initials(peerName(workspace, peer));
}

export function initials(name) {
  const letters = name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((part) => [...part][0].toUpperCase());
  return letters.join("") || "?";
}

function byPeer(workspace) {
  const threads = new Map();
  const entry = (peer) => {
    if (!threads.has(peer)) threads.set(peer, { peer, last: null, unread: 0 });
    return threads.get(peer);
  };
  for (const item of workspace.vault.list("message")) {
    const message = item.data;
    if (typeof message.peer !== "string") continue;
    const thread = entry(message.peer);
    if (message.dir === "in" && message.state === "delivered") thread.unread += 1;
    if (!thread.last || (message.sent ?? 0) >= (thread.last.sent ?? 0)) thread.last = message;
  }
  for (const item of workspace.vault.list("contact")) {
    if (typeof item.data.peer === "string") entry(item.data.peer);
  }
  return threads;
}

export function threadList(workspace) {
  return [...byPeer(workspace).values()]
    .map((thread) => ({
      ...thread,
      name: peerName(workspace, thread.peer),
      verified: contactItem(workspace.vault, thread.peer)?.data.verified === true,
      closed: contactItem(workspace.vault, thread.peer)?.data.closed === true,
    }))
    .sort((a, b) => (b.last?.sent ?? 0) - (a.last?.sent ?? 0));
}

// The threads whose client wrote last, the longest waiting first: `since` is
// the first of the client's messages after the last reply (or ever).
export function waitingThreads(workspace) {
  const since = new Map();
  const messages = workspace.vault
    .list("message")
    .map((item) => item.data)
    .filter((message) => typeof message.peer === "string")
    .sort((a, b) => (Number(a.sent) || 0) - (Number(b.sent) || 0));
  for (const message of messages) {
    if (message.dir === "out") since.delete(message.peer);
    else if (!since.has(message.peer)) since.set(message.peer, Number(message.sent) || 0);
  }
  return [...since.entries()]
    .map(([peer, first]) => ({ peer, since: first, name: peerName(workspace, peer) }))
    .sort((a, b) => a.since - b.since);
}

export function unreadTotal(workspace) {
  let total = 0;
  for (const thread of byPeer(workspace).values()) total += thread.unread;
  return total;
}

export function threadMessages(workspace, peer) {
  const stored = workspace.vault
    .list("message")
    .filter((item) => item.data.peer === peer && typeof item.data.body === "string")
    .map((item) => ({
      key: item.id,
      id: String(item.data.id),
      dir: item.data.dir === "out" ? "out" : "in",
      body: item.data.body,
      sent: Number(item.data.sent) || 0,
      state: item.data.state,
      pending: false,
    }))
    .sort((a, b) => a.sent - b.sent);
  const waiting = workspace.sender.pendingFor(peer).map((entry) => ({
    key: entry.key,
    id: entry.message.id,
    dir: "out",
    body: entry.message.body,
    sent: entry.message.sent,
    state: entry.status === "failed" ? "failed" : "sending",
    notice: entry.notice,
    pending: true,
  }));
  // A message being sent is shown once: from the outbox until its item is stored.
  const storedIds = new Set(stored.filter((m) => m.dir === "out").map((m) => m.id));
  return [...stored, ...waiting.filter((m) => !storedIds.has(m.id))];
}

// Marks what this person has now seen as read, and tells the sender.
export function markRead(workspace, peer) {
  const ids = workspace.vault
    .list("message")
    .filter(
      (item) =>
        item.data.peer === peer && item.data.dir === "in" && item.data.state === "delivered",
    )
    .map((item) => item.data.id);
  if (ids.length > 0) workspace.sender.queueReceipt(peer, "read", ids);
}
