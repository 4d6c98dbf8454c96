// Dates as people read them: a time today, "Yesterday", a date otherwise.

const TIME = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const DAY = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
const DAY_YEAR = new Intl.DateTimeFormat(undefined, {
  day: "numeric",
  month: "short",
  year: "numeric",
});
const FULL = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });

function startOfDay(date) {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();
}

export function shortWhen(seconds) {
  const date = new Date(seconds * 1000);
  const today = startOfDay(new Date());
  const day = startOfDay(date);
  if (day === today) return TIME.format(date);
  if (day === today - 86400000) return `Yesterday ${TIME.format(date)}`;
  const sameYear = date.getFullYear() === new Date().getFullYear();
  return `${(sameYear ? DAY : DAY_YEAR).format(date)}, ${TIME.format(date)}`;
}

export function listWhen(seconds) {
  const date = new Date(seconds * 1000);
  if (startOfDay(date) === startOfDay(new Date())) return TIME.format(date);
  return (date.getFullYear() === new Date().getFullYear() ? DAY : DAY_YEAR).format(date);
}

export function fullWhen(seconds) {
  return FULL.format(new Date(seconds * 1000));
}

export function isoWhen(seconds) {
  return new Date(seconds * 1000).toISOString();
}
