// Auto-lock after a period without activity. Time is measured from the last
// activity rather than by a single long timer, because browsers throttle
// timers in background tabs: a tab left in the background locks as soon as
// it is looked at again if its time ran out meanwhile.
//
// Before it locks, the page warns: for the last WARN_SECONDS (at most half
// the time) `onWarn(secondsLeft)` is called every second, and
// `onWarn(null)` when any activity, such as the warning's own button, puts
// the lock off again.

const ACTIVITY_EVENTS = ["pointerdown", "keydown", "wheel", "touchstart", "input", "scroll"];
const CHECK_EVERY_MS = 1000;
const WARN_SECONDS = 30;
export const DEFAULT_IDLE_MINUTES = 5;
const MIN_IDLE_MINUTES = 1;
const MAX_IDLE_MINUTES = 240;

export function clampMinutes(value, fallback) {
  const minutes = Math.round(Number(value));
  if (!Number.isFinite(minutes)) return fallback;
  return Math.min(MAX_IDLE_MINUTES, Math.max(MIN_IDLE_MINUTES, minutes));
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
