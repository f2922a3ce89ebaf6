// Time in the territory's zone, whatever the browser's. Pure, so that node tests it without a browser.

export const BROWSER_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;

// Dates and times as the French read them ("01/12/2026 14:30"), in the zone given (the browser's if none).
export function formatter(zone) {
  return new Intl.DateTimeFormat("fr-FR", { dateStyle: "short", timeStyle: "short", timeZone: zone });
}

// The wall-clock time in a zone of an instant, read as if it were UTC (milliseconds).
function wall(zone, at) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-GB", { timeZone: zone, hourCycle: "h23", year: "numeric",
    month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
    .formatToParts(at).map((x) => [x.type, x.value]));
  return Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
}

// A time typed in a form ("2026-12-01T14:30") is a time of the territory, whatever the browser's zone:
// the instant whose wall-clock time in the territory's zone is the one typed (DST included). Without a
// zone (not signed in yet) it is the browser's.
export function fromLocal(value, zone) {
  if (!value) return null;
  const typed = new Date(`${value}Z`);
  if (!zone) return new Date(value);
  let instant = typed.getTime() - (wall(zone, typed) - typed.getTime());
  instant -= wall(zone, new Date(instant)) - typed.getTime();  // a second pass when the offset changes in between
  return new Date(instant);
}

// An <input type="month"> value ("2026-03") of a date, in the browser's calendar.
export function monthValue(date) { return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, "0")}`; }

// The twelve whole months before the current one: what an analyst looks at first.
export function lastTwelveMonths(now = new Date()) {
  const last = new Date(now.getFullYear(), now.getMonth() - 1, 1);
  const first = new Date(last.getFullYear(), last.getMonth() - 11, 1);
  return { from: monthValue(first), to: monthValue(last) };
}

// When to renew a token that has `leftMs` to live: a minute before its end, or halfway through a
// shorter life.
export const RENEW_BEFORE_MS = 60000;
export function renewIn(leftMs) { return Math.max(leftMs / 2, leftMs - RENEW_BEFORE_MS); }
