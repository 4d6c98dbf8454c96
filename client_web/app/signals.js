// The quiet signal of a new message while the app is open, in this tab or a
// background one. Nothing leaves the practice's server for it: the tab's
// neutral title gains a count of unread messages (unless the practice set
// `title_marker` off), and, if this account asked for it and the browser
// allows it, a browser notification appears with neutral words only: never
// who wrote, never what, never the account.

export const NOTICE_TEXT = "Something new is waiting.";
const NOTICE_TAG = "new";

let brand = document.title;
let marker = true;

export function configureSignals(info, title) {
  brand = title;
  marker = info.title_marker !== false;
}

// The neutral title, with "(3) " in front while three messages are unread.
export function showUnread(count) {
  document.title = marker && count > 0 ? `(${count}) ${brand}` : brand;
}

export function browserNoticesSupported() {
  return typeof window.Notification === "function";
}

export function browserNoticesAllowed() {
  return browserNoticesSupported() && window.Notification.permission === "granted";
}

// Asks the browser (only from a click); true if notifications may be shown.
export async function askForBrowserNotices() {
  if (!browserNoticesSupported()) return false;
  if (window.Notification.permission === "granted") return true;
  return (await window.Notification.requestPermission()) === "granted";
}

// One notification with the neutral title and text; a newer one replaces it.
export function showBrowserNotice() {
  if (!browserNoticesAllowed()) return;
  const notice = new window.Notification(brand, {
    body: NOTICE_TEXT,
    tag: NOTICE_TAG,
    icon: "/img/icon.svg",
  });
  notice.addEventListener("click", () => {
    window.focus();
    notice.close();
  });
}
