// Auto-lock after a period without activity. Time is measured from the last
// activity rather than by a single long timer, because browsers throttle
// timers in background tabs: a tab left in the background locks as soon as
// it is looked at again if its time ran out meanwhile.

const ACTIVITY_EVENTS = ["pointerdown", "keydown", "wheel", "touchstart", "input", "scroll"];
const CHECK_EVERY_MS = 5000;
export const DEFAULT_IDLE_MINUTES = 5;
const MIN_IDLE_MINUTES = 1;
const MAX_IDLE_MINUTES = 240;

export function clampMinutes(value, fallback) {
  const minutes = Math.round(Number(value));
  if (!Number.isFinite(minutes)) return fallback;
  return Math.min(MAX_IDLE_MINUTES, Math.max(MIN_IDLE_MINUTES, minutes));
}

export function startIdleLock(minutes, onIdle) {
  let limitMs = minutes * 60000;
  let lastActivity = Date.now();
  let stopped = false;

  const touch = () => {
    lastActivity = Date.now();
  };
  const check = () => {
    if (stopped || Date.now() - lastActivity < limitMs) return;
    stop();
    onIdle();
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
  }

  return {
    stop,
    setMinutes(value) {
      limitMs = value * 60000;
      touch();
    },
  };
}
