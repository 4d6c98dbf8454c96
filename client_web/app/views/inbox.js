// Conversations by last activity, with unread counts: the therapist's inbox
// and the client's list of threads.

import { officeHours } from "../directory.js";
import { clear, h } from "../dom.js";
import { loadBlocks } from "../mutations.js";
import { peerInitials, threadList } from "../threads.js";
import { listWhen } from "../time.js";
import { waitingCard } from "./waiting.js";

export function inboxScreen(ctx, { workspace, go }) {
  const therapist = workspace.role === "therapist";
  const list = h("div", { class: "inbox__list" });
  let blocked = new Set();

  function render() {
    const threads = threadList(workspace);
    clear(list);
    if (threads.length === 0) {
      list.append(
        therapist
          ? h(
              "div",
              { class: "empty card card--flat" },
              h("p", { class: "empty__title" }, "No conversations yet"),
              h(
                "p",
                { class: "muted" },
                "When a client writes to you, the conversation appears here. Keep your profile " +
                  "up to date so clients know when to expect a reply.",
              ),
            )
          : h(
              "div",
              { class: "empty card card--flat" },
              h("p", { class: "empty__title" }, "No conversations yet"),
              h("p", { class: "muted" }, "Choose a therapist to write to."),
              h("button", {
                type: "button",
                class: "button button--primary",
                text: "Find a therapist",
                onClick: () => go("directory"),
              }),
            ),
      );
      return;
    }
    list.append(
      h(
        "ul",
        {
          class: "threads",
          "aria-label": therapist ? "Conversations with clients" : "Your conversations",
        },
        threads.map((thread) => row(thread)),
      ),
    );
  }

  function row(thread) {
    const preview = thread.last
      ? `${thread.last.dir === "out" ? "You: " : ""}${thread.last.body}`
      : "No messages yet";
    return h(
      "li",
      {},
      h(
        "button",
        {
          type: "button",
          class: `thread-row${thread.unread ? " thread-row--unread" : ""}`,
          "data-peer-name": thread.name,
          onClick: () => go("thread", { peer: thread.peer }),
        },
        h("span", {
          class: "avatar",
          "aria-hidden": "true",
          text: peerInitials(workspace, thread.peer),
        }),
        h(
          "span",
          { class: "thread-row__main" },
          h(
            "span",
            { class: "thread-row__top" },
            h("span", { class: "thread-row__name", dir: "auto", text: thread.name }),
            thread.verified
              ? h("span", { class: "badge badge--verified", text: "Verified" })
              : null,
            blocked.has(thread.peer)
              ? h("span", { class: "badge badge--neutral", text: "Blocked" })
              : null,
            thread.closed ? h("span", { class: "badge badge--neutral", text: "Closed" }) : null,
            thread.last
              ? h("span", { class: "thread-row__when", text: listWhen(thread.last.sent ?? 0) })
              : null,
          ),
          h("span", { class: "thread-row__preview", dir: "auto", text: preview }),
        ),
        // The row's name is all its visible text (name, badges, time, preview);
        // the count's own words are for screen readers, its badge for the eye.
        thread.unread
          ? [
              h("span", { class: "visually-hidden", text: `, ${thread.unread} unread` }),
              h("span", {
                class: "badge badge--count",
                "aria-hidden": "true",
                text: String(thread.unread),
              }),
            ]
          : null,
      ),
    );
  }

  if (therapist) {
    loadBlocks(workspace)
      .then((found) => {
        blocked = found;
        render();
      })
      .catch(() => {});
  }
  render();

  const summary = h("div", {});
  const waiting = therapist ? waitingCard(workspace, go) : null;

  function renderSummary() {
    const own = workspace.directory.find((entry) => entry.account === workspace.account)?.profile;
    clear(summary);
    summary.append(
      h(
        "section",
        { class: "card stack--tight" },
        h("h2", { class: "card__title", id: "availability-title" }, "What clients see"),
        own
          ? [
              h(
                "span",
                { class: `badge ${own.accepting ? "badge--positive" : "badge--neutral"}` },
                h("span", { class: "dot", "aria-hidden": "true" }),
                own.accepting ? "Taking new clients" : "Not taking new clients",
              ),
              h(
                "dl",
                { class: "facts" },
                summaryFact("Usually replies", own.response_time || "Not given"),
                summaryFact("Hours", officeHours(own) || "Not given"),
                summaryFact("Away message", own.away_message || "None"),
              ),
            ]
          : h(
              "p",
              { class: "muted small" },
              "Your profile is not published yet, so clients cannot find you.",
            ),
        h("button", {
          type: "button",
          class: "button button--secondary button--small",
          text: own ? "Edit profile" : "Write your profile",
          onClick: () => go("profile"),
        }),
      ),
    );
  }

  const refresh = () => {
    render();
    if (therapist) {
      renderSummary();
      waiting.render();
    }
  };
  workspace.events.addEventListener("change", refresh);
  ctx.onLeave(() => workspace.events.removeEventListener("change", refresh));
  if (therapist) renderSummary();

  return h(
    "section",
    { class: `page ${therapist ? "page--wide" : ""} inbox`, "aria-labelledby": "inbox-title" },
    h(
      "header",
      { class: "page__header row row--between" },
      h("h1", { id: "inbox-title" }, therapist ? "Inbox" : "Messages"),
      therapist
        ? null
        : h("button", {
            type: "button",
            class: "button button--secondary button--small",
            text: "Find a therapist",
            onClick: () => go("directory"),
          }),
    ),
    therapist
      ? h(
          "div",
          { class: "split" },
          list,
          h(
            "aside",
            { class: "inbox__aside", "aria-label": "Waiting and availability" },
            waiting.element,
            summary,
          ),
        )
      : list,
  );
}

function summaryFact(term, value) {
  return h(
    "div",
    { class: "facts__row facts__row--stacked" },
    h("dt", { class: "facts__term", text: term }),
    h("dd", { class: "facts__value preserve-lines", dir: "auto", text: value }),
  );
}
