// The Settings card listing where this account is signed in, with "Sign out
// other devices": their tokens are refused from then on and their open pages
// lock at once (docs/API.md, "Sessions").

import { clear, h } from "../dom.js";
import { describeSession, loadSessions, signOutOthers } from "../sessions.js";
import { describe } from "../wording.js";

export function sessionsCard(workspace) {
  const list = h("ul", { class: "plain-list stack", id: "session-list" });
  const status = h("p", { class: "small muted", role: "status" });
  const button = h("button", {
    type: "button",
    class: "button button--secondary",
    id: "sign-out-others",
    text: "Sign out other devices",
  });

  async function refresh() {
    try {
      const sessions = await loadSessions(workspace);
      clear(list);
      for (const session of sessions) {
        list.append(h("li", { class: "session", text: describeSession(session) }));
      }
      button.disabled = sessions.every((session) => session.this === true);
    } catch (failure) {
      status.textContent = describe(failure);
    }
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    status.textContent = "Signing out the other devices…";
    try {
      const count = await signOutOthers(workspace);
      status.textContent =
        count === 0
          ? "No other device was signed in."
          : `Signed out ${count === 1 ? "1 other device" : `${count} other devices`}. ` +
            "If someone may know your account secret, change it too.";
    } catch (failure) {
      status.textContent = describe(failure);
    }
    await refresh();
  });

  refresh();
  return h(
    "section",
    { class: "card", "aria-labelledby": "sessions-title" },
    h("h2", { class: "card__title", id: "sessions-title" }, "Where you are signed in"),
    h(
      "p",
      { class: "small muted" },
      "Each browser or terminal where you signed in with your account secret. " +
        "The service keeps no device names or addresses, only the kind and the day it was last used.",
    ),
    list,
    h("div", { class: "row" }, button),
    status,
  );
}
