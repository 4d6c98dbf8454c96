// The frame around every screen: which screen is shown, the navigation, the
// status line and the live regions for screen readers. Screens are plain
// functions `(ctx, params) -> Element`; `ctx.onLeave(fn)` registers clean-up
// that runs when the screen is replaced.

import { byId, clear, h } from "./dom.js";

let leaveHandlers = [];
let currentName = null;

export function show(name, screen, params = {}, { focus = true } = {}) {
  runLeaveHandlers();
  currentName = name;
  const ctx = {
    onLeave(fn) {
      leaveHandlers.push(fn);
    },
  };
  const main = byId("main");
  const element = screen(ctx, params);
  main.replaceChildren(element);
  main.dataset.screen = name;
  window.scrollTo(0, 0);
  markCurrentNav(name);
  if (focus) focusHeading(element);
  return element;
}

function runLeaveHandlers() {
  const handlers = leaveHandlers;
  leaveHandlers = [];
  for (const fn of handlers) fn();
}

function focusHeading(element) {
  const heading = element.querySelector("h1");
  if (!heading) return;
  heading.tabIndex = -1;
  heading.focus({ preventScroll: true });
}

// Navigation: a list of {name, label, badge?, onSelect}.
export function setNav(items) {
  const nav = byId("nav");
  clear(nav);
  nav.hidden = items.length === 0;
  for (const item of items) {
    const badge = item.badge
      ? h("span", { class: "nav__badge", "aria-label": `${item.badge} unread` }, String(item.badge))
      : null;
    nav.append(
      h(
        "button",
        { type: "button", class: "nav__item", "data-nav": item.name, onClick: item.onSelect },
        h("span", { text: item.label }),
        badge,
      ),
    );
  }
  markCurrentNav(currentName);
}

function markCurrentNav(name) {
  for (const button of byId("nav").querySelectorAll("[data-nav]")) {
    if (button.dataset.nav === name) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
  }
}

export function announce(text, { assertive = false } = {}) {
  const region = byId(assertive ? "announce-assertive" : "announce-polite");
  // Clearing first makes a repeated message be read again.
  region.textContent = "";
  setTimeout(() => {
    region.textContent = text;
  }, 50);
}

// The status line under the top bar: connection trouble and the like.
// `tone` is one of info, warning, danger; `action` is {label, onSelect}.
export function setStatus(text, { tone = "warning", action = null } = {}) {
  const bar = byId("status-bar");
  clear(bar);
  if (!text) return;
  bar.append(
    h(
      "div",
      { class: `notice notice--${tone} row row--between` },
      h("span", { text }),
      action
        ? h("button", {
            type: "button",
            class: "button button--secondary button--small",
            text: action.label,
            onClick: action.onSelect,
          })
        : null,
    ),
  );
}

export function setBrand(title) {
  document.title = title;
  byId("brand-name").textContent = title;
}

// The warning before auto-lock: a countdown and a button to stay. The
// countdown itself is not a live region (it would be read every second);
// the warning is announced once when it appears.
export function setLockWarning(seconds, onStay) {
  let box = byId("lock-warning");
  if (seconds === null) {
    box?.remove();
    return;
  }
  if (!box) {
    box = h(
      "div",
      {
        class: "notice notice--warning row row--between lock-warning",
        id: "lock-warning",
        role: "group",
        "aria-labelledby": "lock-warning-text",
      },
      h("span", { id: "lock-warning-text" }),
      h("button", {
        type: "button",
        class: "button button--secondary button--small",
        id: "stay-unlocked",
        text: "Stay signed in",
        onClick: onStay,
      }),
    );
    byId("status-bar").after(box);
    announce(
      `This page will lock in ${seconds} seconds without activity. ` +
        "Select Stay signed in to keep it open.",
      { assertive: true },
    );
  }
  byId("lock-warning-text").textContent =
    `No activity for a while: this page locks in ${seconds} s. ` +
    "What you are writing is kept, encrypted.";
}
