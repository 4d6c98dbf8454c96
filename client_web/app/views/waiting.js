// The therapist's inbox card "Waiting for your reply": the threads whose
// client wrote last, the longest waiting first, and when the server last
// notified this therapist (so a promised reply time can be kept).

import { clear, h } from "../dom.js";
import { loadNotifications } from "../notifications.js";
import { waitingThreads } from "../threads.js";
import { shortWhen } from "../time.js";

const SHOWN = 5;

export function waitingCard(workspace, go) {
  const list = h("div", {});
  const notified = h("p", { class: "small muted", id: "last-notified" });

  function render() {
    const waiting = waitingThreads(workspace);
    clear(list);
    if (waiting.length === 0) {
      list.append(h("p", { class: "small muted" }, "Nobody is waiting for a reply."));
      return;
    }
    list.append(
      h(
        "ol",
        { class: "waiting", "aria-label": "Longest waiting first" },
        waiting.slice(0, SHOWN).map((thread) =>
          h(
            "li",
            {},
            h(
              "button",
              {
                type: "button",
                class: "button button--secondary button--small waiting__item",
                "data-waiting": thread.name,
                onClick: () => go("thread", { peer: thread.peer }),
              },
              h("span", { class: "waiting__name", text: thread.name }),
              h("span", { class: "small muted", text: ` since ${shortWhen(thread.since)}` }),
            ),
          ),
        ),
      ),
      waiting.length > SHOWN
        ? h("p", { class: "small muted" }, `and ${waiting.length - SHOWN} more`)
        : null,
    );
  }

  loadNotifications(workspace)
    .then((view) => {
      if (!view.email && !view.push_url) {
        notified.textContent = "Notifications are off. You can turn them on in Settings.";
      } else if (view.last_notified) {
        notified.textContent = `Last notified ${shortWhen(view.last_notified)}.`;
      } else {
        notified.textContent = "Not notified since the server last started.";
      }
    })
    .catch(() => {
      notified.textContent = "";
    });
  render();

  const element = h(
    "section",
    { class: "card stack--tight", "aria-labelledby": "waiting-title" },
    h("h2", { class: "card__title", id: "waiting-title" }, "Waiting for your reply"),
    list,
    notified,
  );
  return { element, render };
}
