// One conversation: the messages in order with their states and the
// composer; for therapists, the notes panel (views/notes.js) beside it.
// Message text is only ever set as text, and shown with its line breaks.

import { MAX_BODY_CHARS } from "../../lib/constants.js";
import { clear, h } from "../dom.js";
import { contactItem, sessionItem } from "../records.js";
import { checkBody } from "../sender.js";
import { markRead, peerInitials, peerName, threadMessages } from "../threads.js";
import { fullWhen, isoWhen, shortWhen } from "../time.js";
import { describe } from "../wording.js";
import { crisisLine } from "./crisis.js";
import { notesPanel } from "./notes.js";

// The composer counts characters only once the end is near.
const COUNT_SHOWN_FROM = MAX_BODY_CHARS - 1000;

const STATE_LABEL = {
  sending: "Sending…",
  sent: "Sent",
  delivered: "Delivered",
  read: "Read",
  failed: "Not sent",
};

export function threadScreen(ctx, { workspace, go, peer }) {
  const therapist = workspace.role === "therapist";
  const listing = () => workspace.directory.find((entry) => entry.account === peer) ?? null;
  const name = () => peerName(workspace, peer);
  const isClosed = () => contactItem(workspace.vault, peer)?.data.closed === true;

  const title = h("h1", { class: "thread__name", id: "thread-title", dir: "auto" });
  const subtitle = h("p", { class: "thread__sub muted small" });
  const avatar = h("span", { class: "avatar avatar--large", "aria-hidden": "true" });
  const verifiedBadge = h("span", {
    class: "badge badge--verified",
    text: "Verified",
    hidden: true,
  });
  const notices = h("div", { class: "thread__notices" });
  // The live log is a container around the list: a role on the <ol> itself
  // would take its list semantics away from screen readers.
  const messageList = h("ol", { class: "messages__list", "aria-label": "Messages" });
  const messages = h(
    "div",
    {
      class: "messages",
      id: "messages",
      role: "log",
      "aria-live": "polite",
      "aria-relevant": "additions",
      "aria-labelledby": "thread-title",
      tabIndex: 0,
    },
    messageList,
  );
  const composer = composerForm();
  let blocked = false;
  // The newest message stays in view while the person is reading at the end,
  // also when the window or the phone's keyboard changes the list's size.
  let stickToBottom = true;
  messages.addEventListener("scroll", () => {
    stickToBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 80;
  });
  const resizing = new ResizeObserver(() => {
    if (stickToBottom) messages.scrollTop = messages.scrollHeight;
  });
  resizing.observe(messages);

  function renderHeader() {
    const entry = listing();
    title.textContent = name();
    avatar.textContent = peerInitials(workspace, peer);
    subtitle.textContent = therapist
      ? "Anonymous client"
      : [
          entry?.profile.pronouns,
          entry?.profile.response_time && `Usually replies ${entry.profile.response_time}`,
        ]
          .filter(Boolean)
          .join(" · ");
    verifiedBadge.hidden = contactItem(workspace.vault, peer)?.data.verified !== true;
    clear(notices);
    if (!therapist && entry?.profile.away_message) {
      notices.append(
        h(
          "div",
          { class: "notice notice--info" },
          h("strong", { class: "notice__title", text: `${entry.profile.display_name} is away` }),
          h("span", { class: "preserve-lines", dir: "auto", text: entry.profile.away_message }),
        ),
      );
    }
    const started =
      sessionItem(workspace.vault, peer) || threadMessages(workspace, peer).length > 0;
    if (!therapist && entry && !entry.profile.accepting && !started) {
      notices.append(
        h(
          "p",
          { class: "notice notice--warning" },
          `${entry.profile.display_name} is not taking new clients at the moment. ` +
            "Please choose another therapist.",
        ),
      );
      composer.disable("Not taking new clients.");
    }
    if (isClosed()) {
      notices.append(
        h(
          "p",
          { class: "notice notice--info", id: "thread-closed" },
          therapist
            ? "This conversation is closed: the client deleted their account. Nothing more " +
                "can be sent. What is here stays readable for you."
            : "This conversation is closed: this therapist no longer works with the practice. " +
                "Nothing more can be sent; you can choose another therapist.",
        ),
      );
      composer.disable("This conversation is closed.");
    }
    if (therapist && blocked) {
      notices.append(
        h(
          "p",
          { class: "notice notice--warning" },
          "You have blocked this client. They cannot send you messages until you unblock them.",
        ),
      );
    }
  }

  // Rows are kept and changed in place, so the live log announces a new
  // message once and never re-reads the conversation when a state changes.
  const rows = new Map();
  let emptyRow = null;

  function renderMessages() {
    const list = threadMessages(workspace, peer);
    const wanted = new Set(list.map(rowKey));
    for (const [key, row] of rows) {
      if (!wanted.has(key)) {
        row.element.remove();
        rows.delete(key);
      }
    }
    if (list.length === 0 && !emptyRow) {
      emptyRow = emptyConversation();
      messageList.append(emptyRow);
    } else if (list.length > 0 && emptyRow) {
      emptyRow.remove();
      emptyRow = null;
    }
    list.forEach((message, index) => {
      const key = rowKey(message);
      let row = rows.get(key);
      if (
        row &&
        row.failed === (message.state === "failed") &&
        row.notice === (message.notice ?? null) &&
        row.closed === isClosed()
      ) {
        row.element.dataset.state = message.state;
        if (row.state) {
          row.state.textContent = STATE_LABEL[message.state] ?? "";
          row.state.className = `msg__state msg__state--${message.state}`;
        }
      } else {
        const fresh = messageRow(message);
        if (row) row.element.replaceWith(fresh.element);
        rows.set(key, fresh);
        row = fresh;
      }
      const there = messageList.children[index];
      if (there !== row.element) messageList.insertBefore(row.element, there ?? null);
    });
    if (stickToBottom) messages.scrollTop = messages.scrollHeight;
  }

  function rowKey(message) {
    return `${message.dir}:${message.id}`;
  }

  function emptyConversation() {
    return h(
      "li",
      { class: "messages__empty" },
      h("p", {
        class: "empty__title",
        text: `This is the start of your conversation with ${name()}.`,
      }),
      h(
        "p",
        { class: "muted small" },
        "Messages are encrypted on this device; only the two of you can read them.",
      ),
    );
  }

  function messageRow(message) {
    const mine = message.dir === "out";
    const meta = [
      h("time", {
        dateTime: isoWhen(message.sent),
        title: fullWhen(message.sent),
        text: shortWhen(message.sent),
      }),
    ];
    const state = mine
      ? h("span", {
          class: `msg__state msg__state--${message.state}`,
          text: STATE_LABEL[message.state] ?? "",
        })
      : null;
    if (state) meta.push(state);
    const element = h(
      "li",
      {
        class: `msg msg--${mine ? "out" : "in"}${message.state === "failed" ? " msg--failed" : ""}`,
        "data-state": message.state,
      },
      h("span", { class: "visually-hidden", text: mine ? "You wrote:" : `${name()} wrote:` }),
      h("p", { class: "msg__body", dir: "auto", text: message.body }),
      h("p", { class: "msg__meta" }, meta),
      message.notice ? h("p", { class: "msg__notice", text: message.notice }) : null,
      message.state === "failed" && !isClosed()
        ? h(
            "div",
            { class: "row msg__actions" },
            h("button", {
              type: "button",
              class: "button button--secondary button--small",
              text: "Try again",
              onClick: () => workspace.sender.retry(message.key),
            }),
            h("button", {
              type: "button",
              class: "button button--quiet button--small",
              text: "Move back to the message box",
              onClick: () => {
                const entry = workspace.sender.discard(message.key);
                if (entry) composer.restore(entry.message.body);
              },
            }),
          )
        : null,
    );
    return {
      element,
      state,
      failed: message.state === "failed",
      notice: message.notice ?? null,
      closed: isClosed(),
    };
  }

  function composerForm() {
    const textarea = h("textarea", {
      class: "textarea composer__input",
      id: "composer",
      dir: "auto",
      name: "message",
      rows: 3,
      value: workspace.drafts.get(peer) ?? "",
      "aria-describedby": "composer-hint composer-error",
    });
    const error = h("p", { class: "form-error", id: "composer-error", role: "alert" });
    const counter = h("span", { class: "composer__count small muted", "aria-live": "polite" });
    const send = h("button", {
      type: "submit",
      class: "button button--primary",
      id: "send",
      text: "Send",
    });
    const form = h(
      "form",
      { class: "composer", novalidate: true, "aria-label": "Write a message" },
      h("label", { class: "field__label", htmlFor: "composer", text: "Your message" }),
      textarea,
      h(
        "div",
        { class: "composer__bar" },
        h(
          "span",
          { class: "small muted", id: "composer-hint" },
          "Ctrl + Enter sends. Enter starts a new line.",
        ),
        counter,
        send,
      ),
      error,
    );
    const submit = () => {
      error.textContent = "";
      textarea.removeAttribute("aria-invalid");
      const body = textarea.value;
      try {
        checkBody(body);
        stickToBottom = true;
        workspace.sender.queueText(peer, body, {
          label: name(),
          expectedIdentity: listing()?.identityKey,
        });
      } catch (failure) {
        error.textContent = failure.code === "compose" ? failure.message : describe(failure);
        textarea.setAttribute("aria-invalid", "true");
        textarea.focus();
        return;
      }
      textarea.value = "";
      workspace.drafts.delete(peer);
      counter.textContent = "";
      textarea.focus();
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submit();
    });
    textarea.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        submit();
      }
    });
    textarea.addEventListener("input", () => {
      workspace.drafts.set(peer, textarea.value);
      const length = [...textarea.value].length;
      counter.textContent = length > COUNT_SHOWN_FROM ? `${length} / ${MAX_BODY_CHARS}` : "";
    });
    return {
      element: form,
      disable(reason) {
        textarea.disabled = true;
        send.disabled = true;
        error.textContent = reason;
      },
      restore(body) {
        textarea.value = body + (textarea.value ? `\n${textarea.value}` : "");
        workspace.drafts.set(peer, textarea.value);
        textarea.focus();
      },
    };
  }

  const readIfVisible = () => {
    if (document.visibilityState === "visible") markRead(workspace, peer);
  };
  const onChange = (event) => {
    if (event.detail.peer !== peer && event.detail.peer !== null) return;
    renderHeader();
    renderMessages();
    readIfVisible();
  };
  workspace.events.addEventListener("change", onChange);
  document.addEventListener("visibilitychange", readIfVisible);
  ctx.onLeave(() => {
    resizing.disconnect();
    workspace.events.removeEventListener("change", onChange);
    document.removeEventListener("visibilitychange", readIfVisible);
  });

  const notesOptions = {
    workspace,
    peer,
    onLeave: (fn) => ctx.onLeave(fn),
    onBlocked: (value) => {
      blocked = value;
      renderHeader();
    },
  };
  const conversation = h("div", { class: "conversation card" }, messages, composer.element);
  const page = h(
    "section",
    { class: `page ${therapist ? "page--wide" : ""} thread`, "aria-labelledby": "thread-title" },
    h(
      "header",
      { class: "thread__header" },
      h("button", {
        type: "button",
        class: "button button--quiet button--small thread__back",
        text: therapist ? "← Inbox" : "← Messages",
        onClick: () => go(therapist ? "inbox" : "messages"),
      }),
      h(
        "div",
        { class: "thread__who" },
        avatar,
        h("div", {}, h("div", { class: "row thread__title-row" }, title, verifiedBadge), subtitle),
      ),
      h("button", {
        type: "button",
        class: "button button--secondary button--small thread__safety",
        id: "open-safety",
        text: "Safety number",
        onClick: () => go("safety", { peer }),
      }),
    ),
    notices,
    therapist ? null : crisisLine(),
    therapist ? h("div", { class: "split" }, conversation, notesPanel(notesOptions)) : conversation,
  );
  renderHeader();
  renderMessages();
  readIfVisible();
  return page;
}
