// Auto-lock after a period without activity. Time is measured from the last
// activity rather than by a single long timer, because browsers throttle
// timers in background tabs: a tab left in the background locks as soon as
// it is looked at again if its time ran out meanwhile.
//
// Before it locks, the page warns: for the last WARN_SECONDS (at most half
// the time) `onWarn(secondsLeft)` is called every second, and
// `onWarn(null)` when any activity, such as the warning's own button, puts
// the lock off again.

import { IDLE_LOCK_MAX_MINUTES, IDLE_LOCK_MIN_MINUTES } from "../lib/constants.js";

const ACTIVITY_EVENTS = ["pointerdown", "keydown", "wheel", "touchstart", "input", "scroll"];
// Every second, so the countdown before the lock moves by seconds.
const CHECK_EVERY_MS = 1000;
const WARN_SECONDS = 30;

// A lock time is used only if it lies within the bounds the server also
// applies; one that does not is never bent to fit, but named on the
// settings screen with the range allowed.
export function withinIdleBounds(minutes) {
  return (
    Number.isInteger(minutes) &&
    minutes >= IDLE_LOCK_MIN_MINUTES &&
    minutes <= IDLE_LOCK_MAX_MINUTES
  );
}

export function startIdleLock(minutes, onIdle, onWarn = () => {}) {
  let limitMs = minutes * 60000;
  let lastActivity = Date.now();
  let stopped = false;
  let warning = false;

  const touch = () => {
    lastActivity = Date.now();
    if (warning) {
      warning = false;
      onWarn(null);
    }
  };
  const check = () => {
    if (stopped) return;
    const left = limitMs - (Date.now() - lastActivity);
    if (left <= 0) {
      stop();
      onIdle();
      return;
    }
    if (left <= Math.min(WARN_SECONDS * 1000, limitMs / 2)) {
      warning = true;
      onWarn(Math.ceil(left / 1000));
    }
  };
  const onVisibility = () => {
    if (document.visibilityState === "visible") check();
  };
  for (const name of ACTIVITY_EVENTS) {
    document.addEventListener(name, touch, { capture: true, passive: true });
  }
  document.addEventListener("visibilitychange", onVisibility);
  window.addEventListener("pageshow", check);
  const timer = setInterval(check, CHECK_EVERY_MS);

  function stop() {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    for (const name of ACTIVITY_EVENTS) {
      document.removeEventListener(name, touch, { capture: true });
    }
    document.removeEventListener("visibilitychange", onVisibility);
    window.removeEventListener("pageshow", check);
    if (warning) onWarn(null);
  }

  return {
    stop,
    setMinutes(value) {
      limitMs = value * 60000;
      touch();
    },
  };
}
