// A therapist's notifications when away from the page (docs/API.md,
// "Notifications"): a mail address and a push address kept by the server,
// which sends only the practice's neutral wording to them.

import { request } from "./api.js";

export function loadNotifications(workspace) {
  return request("GET", "/api/notifications", { token: workspace.token() });
}

// `changes` holds `email` and/or `push_url`: text, or null to turn that one off.
export function saveNotifications(workspace, changes) {
  return request("PUT", "/api/notifications", { token: workspace.token(), body: changes });
}

export function turnNotificationsOff(workspace) {
  return request("DELETE", "/api/notifications", { token: workspace.token() });
}

export function sendTestNotification(workspace, channel) {
  return request("POST", "/api/notifications/test", {
    token: workspace.token(),
    body: { channel },
  });
}
