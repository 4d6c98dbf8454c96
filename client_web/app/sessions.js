// The account's signed-in sessions (docs/API.md, "Sessions"): what the server
// knows of each (an opaque id, browser or command line, the last day it was
// used, whether it is this one), and signing out all the others at once.

import { request } from "./api.js";

const DAY_SECONDS = 86400;

export async function loadSessions(workspace) {
  const answer = await request("GET", "/api/sessions", { token: workspace.token() });
  return Array.isArray(answer.sessions) ? answer.sessions : [];
}

export async function signOutOthers(workspace) {
  const answer = await request("POST", "/api/sessions/sign-out-others", {
    token: workspace.token(),
    body: {},
  });
  return Number.isSafeInteger(answer.signed_out) ? answer.signed_out : 0;
}

export function describeSession(session, nowSeconds = Date.now() / 1000) {
  const kind =
    session.kind === "cli" ? "Command line" : session.kind === "browser" ? "Browser" : "Device";
  const today = Math.floor(nowSeconds / DAY_SECONDS) * DAY_SECONDS;
  let when;
  if (!Number.isFinite(session.active) || session.active <= 0) when = "not used yet";
  else if (session.active >= today) when = "active today";
  else if (session.active >= today - DAY_SECONDS) when = "active yesterday";
  else {
    const day = new Date(session.active * 1000).toLocaleDateString(undefined, {
      day: "numeric",
      month: "short",
      timeZone: "UTC",
    });
    when = `last active ${day}`;
  }
  return session.this === true ? `${kind} · this device · ${when}` : `${kind} · ${when}`;
}
