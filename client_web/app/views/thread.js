// One conversation: the messages in order with their states, the composer,
// and for therapists the private notes and the block control. Message text is
// only ever set as text, and shown with its line breaks.

import { clear, h } from "../dom.js";
import { loadBlocks, saveNote, setBlocked } from "../mutations.js";
import { contactItem, noteItem, sessionItem } from "../records.js";
import { checkBody } from "../sender.js";
import { announce } from "../shell.js";
import { markRead, peerName, threadMessages } from "../threads.js";
import { fullWhen, isoWhen, shortWhen } from "../time.js";
import { describe } from "../wording.js";
import { initials } from "./directory.js";

const STATE_LABEL = {
  sending: "Sending…",
  sent: "Sent",
  delivered: "Delivered",
  read: "Read",
  failed: "Not sent",
};

export function threadScreen(ctx, { ws, go, peer }) {
  const therapist = ws.role === "therapist";
  const listing = () => ws.directory.find((entry) => entry.account === peer) ?? null;
  const name = () => peerName(ws, peer);

  const title = h("h1", { class: "thread__name", id: "thread-title", dir: "auto" });
  const subtitle = h("p", { class: "thread__sub muted small" });
  const verifiedBadge = h("span", {
    class: "badge badge--verified",
    text: "Verified",
    hidden: true,
  });
  const notices = h("div", { class: "thread__notices" });
  const messages = h("ol", {
    class: "messages",
    id: "messages",
    role: "log",
    "aria-live": "polite",
    "aria-relevant": "additions",
    "aria-labelledby": "thread-title",
    tabIndex: 0,
  });
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
    subtitle.textContent = therapist
      ? "Anonymous client"
      : [
          entry?.profile.pronouns,
          entry?.profile.response_time && `Usually replies ${entry.profile.response_time}`,
        ]
          .filter(Boolean)
          .join(" · ");
    verifiedBadge.hidden = contactItem(ws.vault, peer)?.data.verified !== true;
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
    const started = sessionItem(ws.vault, peer) || threadMessages(ws, peer).length > 0;
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
    const list = threadMessages(ws, peer);
    const wanted = new Set(list.map(rowKey));
    for (const [key, row] of rows) {
      if (!wanted.has(key)) {
        row.element.remove();
        rows.delete(key);
      }
    }
    if (list.length === 0 && !emptyRow) {
      emptyRow = emptyConversation();
      messages.append(emptyRow);
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
        row.notice === (message.notice ?? null)
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
      const there = messages.children[index];
      if (there !== row.element) messages.insertBefore(row.element, there ?? null);
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
      message.state === "failed"
        ? h(
            "div",
            { class: "row msg__actions" },
            h("button", {
              type: "button",
              class: "button button--secondary button--small",
              text: "Try again",
              onClick: () => ws.sender.retry(message.key),
            }),
            h("button", {
              type: "button",
              class: "button button--quiet button--small",
              text: "Move back to the message box",
              onClick: () => {
                const entry = ws.sender.discard(message.key);
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
    };
  }

  function composerForm() {
    const textarea = h("textarea", {
      class: "textarea composer__input",
      id: "composer",
      dir: "auto",
      name: "message",
      rows: 3,
      value: ws.drafts.get(peer) ?? "",
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
        ws.sender.queueText(peer, body, {
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
      ws.drafts.delete(peer);
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
      ws.drafts.set(peer, textarea.value);
      const length = [...textarea.value].length;
      counter.textContent = length > 15000 ? `${length} / 16000` : "";
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
        ws.drafts.set(peer, textarea.value);
        textarea.focus();
      },
    };
  }

  function notesPanel() {
    const existing = noteItem(ws.vault, peer);
    const area = h("textarea", {
      class: "textarea notes__input",
      id: "notes",
      dir: "auto",
      rows: 8,
      value: existing?.data.body ?? "",
      "aria-describedby": "notes-hint",
    });
    const status = h("span", { class: "small muted", role: "status" });
    const save = h("button", {
      type: "button",
      class: "button button--secondary button--small",
      id: "save-notes",
      text: "Save notes",
    });
    save.addEventListener("click", async () => {
      save.disabled = true;
      status.textContent = "Saving…";
      try {
        await saveNote(ws, peer, area.value);
        status.textContent = "Saved.";
      } catch (failure) {
        status.textContent = describe(failure);
      } finally {
        save.disabled = false;
      }
    });
    const blockButton = h("button", {
      type: "button",
      class: "button button--danger-outline button--small",
      id: "block",
    });
    const confirmBox = h("div", { class: "confirm", hidden: true });
    const blockStatus = h("p", { class: "small muted", role: "status" });
    const renderBlock = () => {
      blockButton.textContent = blocked ? "Unblock client" : "Block client";
    };
    blockButton.addEventListener("click", async () => {
      if (!blocked) {
        confirmBox.hidden = false;
        confirmBox.querySelector("button")?.focus();
        return;
      }
      await changeBlock(false);
    });
    async function changeBlock(value) {
      blockStatus.textContent = "";
      try {
        await setBlocked(ws, peer, value);
        blocked = value;
        blockStatus.textContent = value ? "Blocked." : "Unblocked.";
        announce(value ? "Client blocked." : "Client unblocked.");
      } catch (failure) {
        blockStatus.textContent = describe(failure);
      }
      confirmBox.hidden = true;
      renderBlock();
      renderHeader();
    }
    confirmBox.append(
      h(
        "p",
        {},
        "Block this client? They will not be able to send you messages. You can unblock them at any time.",
      ),
      h(
        "div",
        { class: "row" },
        h("button", {
          type: "button",
          class: "button button--danger button--small",
          id: "confirm-block",
          text: "Block",
          onClick: () => changeBlock(true),
        }),
        h("button", {
          type: "button",
          class: "button button--quiet button--small",
          text: "Cancel",
          onClick: () => {
            confirmBox.hidden = true;
            blockButton.focus();
          },
        }),
      ),
    );
    loadBlocks(ws)
      .then((found) => {
        blocked = found.has(peer);
        renderBlock();
        renderHeader();
      })
      .catch(() => {});
    renderBlock();
    return h(
      "aside",
      { class: "thread__aside stack", "aria-label": "About this client" },
      h(
        "section",
        { class: "card notes", "aria-labelledby": "notes-title" },
        h("h2", { class: "card__title", id: "notes-title" }, "Private notes"),
        h(
          "p",
          { class: "small muted", id: "notes-hint" },
          "Only you can read these. They are encrypted on this device before they are stored.",
        ),
        h("label", {
          class: "visually-hidden",
          htmlFor: "notes",
          text: "Private notes about this client",
        }),
        area,
        h("div", { class: "row row--between notes__bar" }, status, save),
      ),
      h(
        "section",
        { class: "card", "aria-labelledby": "block-title" },
        h("h2", { class: "card__title", id: "block-title" }, "Conversation"),
        h(
          "p",
          { class: "small muted" },
          "Blocking stops this client's new messages. Nothing is deleted.",
        ),
        blockButton,
        confirmBox,
        blockStatus,
      ),
    );
  }

  const readIfVisible = () => {
    if (document.visibilityState === "visible") markRead(ws, peer);
  };
  const onChange = (event) => {
    if (event.detail.peer !== peer && event.detail.peer !== null) return;
    renderHeader();
    renderMessages();
    readIfVisible();
  };
  ws.events.addEventListener("change", onChange);
  document.addEventListener("visibilitychange", readIfVisible);
  ctx.onLeave(() => {
    resizing.disconnect();
    ws.events.removeEventListener("change", onChange);
    document.removeEventListener("visibilitychange", readIfVisible);
  });

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
        h("span", { class: "avatar avatar--large", "aria-hidden": "true", text: initials(name()) }),
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
    therapist ? h("div", { class: "split" }, conversation, notesPanel()) : conversation,
  );
  renderHeader();
  renderMessages();
  readIfVisible();
  return page;
}
