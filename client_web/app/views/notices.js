// The Settings cards for being told about new messages: a browser
// notification while this page is open (everyone), and mail or push when
// away (therapists only; the server refuses clients).

import { h } from "../dom.js";
import { browserNotices, setBrowserNotices } from "../mutations.js";
import {
  loadNotifications,
  saveNotifications,
  sendTestNotification,
  turnNotificationsOff,
} from "../notifications.js";
import { askForBrowserNotices, browserNoticesSupported, NOTICE_TEXT } from "../signals.js";
import { describe } from "../wording.js";

export function browserNoticeCard(workspace) {
  const supported = browserNoticesSupported();
  const box = h("input", {
    type: "checkbox",
    id: "browser-notices",
    checked: supported && browserNotices(workspace) && Notification.permission === "granted",
    disabled: !supported,
  });
  const status = h("p", { class: "small muted", role: "status" });
  box.addEventListener("change", async () => {
    status.textContent = "";
    const wanted = box.checked;
    try {
      if (wanted && !(await askForBrowserNotices())) {
        box.checked = false;
        status.textContent =
          "This browser does not allow notifications from this site. " +
          "You can allow them in the browser's settings for this site, then try again.";
        return;
      }
      await setBrowserNotices(workspace, wanted);
      status.textContent = wanted
        ? "This browser will show a notification while this page is open."
        : "No browser notifications.";
    } catch (failure) {
      box.checked = !wanted;
      status.textContent = describe(failure);
    }
  });
  const titleMarker = workspace.info.title_marker !== false;
  return h(
    "section",
    { class: "card", "aria-labelledby": "notices-title" },
    h("h2", { class: "card__title", id: "notices-title" }, "New messages while this page is open"),
    titleMarker
      ? h(
          "p",
          { class: "small muted" },
          "While this page is open, also in a background tab, its title shows how many " +
            "messages are unread.",
        )
      : null,
    h(
      "p",
      { class: "small muted", id: "browser-notices-hint" },
      `A browser notification says only “${NOTICE_TEXT}”: never who wrote or what. ` +
        "Nothing is sent anywhere else, and nothing arrives when this page is closed.",
    ),
    h(
      "label",
      { class: "checkbox", htmlFor: "browser-notices" },
      box,
      h(
        "span",
        {},
        supported
          ? "Show a browser notification when a message arrives"
          : "This browser cannot show notifications",
      ),
    ),
    status,
  );
}

function channelField({ id, label, hint, type, placeholder }) {
  const input = h("input", {
    class: "input",
    id,
    type,
    placeholder,
    autocomplete: "off",
    spellcheck: false,
    "aria-describedby": `${id}-hint`,
  });
  const save = h("button", {
    type: "button",
    class: "button button--secondary",
    id: `${id}-save`,
    text: "Save",
  });
  const test = h("button", {
    type: "button",
    class: "button button--secondary",
    id: `${id}-test`,
    text: "Send a test",
  });
  const status = h("p", { class: "small muted", role: "status", id: `${id}-status` });
  const field = h(
    "div",
    { class: "field stack--tight" },
    h("label", { class: "field__label", htmlFor: id, text: label }),
    h("span", { class: "field__hint", id: `${id}-hint`, text: hint }),
    input,
    h("div", { class: "row" }, save, test),
    status,
  );
  return { field, input, save, test, status };
}

export function awayNotificationsCard(workspace) {
  const mail = channelField({
    id: "notify-email",
    label: "Mail address",
    hint: "A mail arrives through the practice's mail server.",
    type: "email",
    placeholder: "name@example.org",
  });
  const push = channelField({
    id: "notify-push",
    label: "Push address",
    hint: "The https:// address of your ntfy topic or UnifiedPush app. Use a long, random topic name.",
    type: "url",
    placeholder: "https://ntfy.example.org/…",
  });
  const off = h("button", {
    type: "button",
    class: "button button--secondary",
    id: "notify-off",
    text: "Turn notifications off",
  });
  const offStatus = h("p", { class: "small muted", role: "status" });

  function fill(view) {
    mail.input.value = view.email ?? "";
    push.input.value = view.push_url ?? "";
    const mailReady = view.mail_available === true;
    mail.input.disabled = !mailReady;
    mail.save.disabled = !mailReady;
    mail.test.disabled = !mailReady || !view.email;
    push.test.disabled = !view.push_url;
    off.disabled = !view.email && !view.push_url;
    if (!mailReady) mail.status.textContent = describe({ code: "mail_unavailable" });
  }

  function wire(channel, parts, field) {
    parts.save.addEventListener("click", async () => {
      parts.status.textContent = "";
      const value = parts.input.value.trim();
      try {
        fill(await saveNotifications(workspace, { [field]: value || null }));
        parts.status.textContent = value
          ? "Saved. Send a test to check that it arrives."
          : "Turned off; the address is deleted from the server.";
      } catch (failure) {
        parts.status.textContent = describe(failure);
      }
    });
    parts.test.addEventListener("click", async () => {
      parts.status.textContent = "Sending a test…";
      try {
        await sendTestNotification(workspace, channel);
        parts.status.textContent = "The test was sent. It should arrive in a moment.";
      } catch (failure) {
        parts.status.textContent = describe(failure);
      }
    });
  }
  wire("email", mail, "email");
  wire("push", push, "push_url");
  off.addEventListener("click", async () => {
    offStatus.textContent = "";
    try {
      fill(await turnNotificationsOff(workspace));
      offStatus.textContent = "Notifications are off; the server deleted your addresses.";
    } catch (failure) {
      offStatus.textContent = describe(failure);
    }
  });
  loadNotifications(workspace)
    .then(fill)
    .catch((failure) => {
      offStatus.textContent = describe(failure);
    });

  return h(
    "section",
    { class: "card stack", "aria-labelledby": "away-title" },
    h("h2", { class: "card__title", id: "away-title" }, "Notifications when you are away"),
    h(
      "p",
      { class: "small muted" },
      "Be told that something new is waiting, by mail, by push, or both. A notification " +
        "carries the practice's neutral words only: never a client, never a message. Several " +
        "messages close together give one notification, sent after a short random delay.",
    ),
    h(
      "p",
      { class: "small muted" },
      "The server keeps these addresses in readable form while notifications are on, and " +
        "deletes them when you turn them off. Leave a field empty and save to turn that one off.",
    ),
    mail.field,
    push.field,
    h("div", { class: "row" }, off),
    offStatus,
  );
}
