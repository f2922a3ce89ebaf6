// What the patient was sent about his appointments, and the médecin traitant about the visit, in French:
// one row per message (kind, channel, state, its time in the territory's zone), when the call's view reads
// the call again, and the slip's "how to cancel". Pure, so that node tests it without a browser.

export const MESSAGE_KINDS = { confirmation: "confirmation", reminder: "rappel", moved: "déplacement", cancellation: "annulation" };
export const MESSAGE_CHANNELS = { sms: "SMS", email: "e-mail" };
// The visit's report to the médecin traitant (GET /v1/bookings/{id} `report.state`).
export const REPORT_STATES = { pending: "en attente", sent: "envoyé", failed: "échec", withheld: "retenu" };

// A pending message whose time is at most this far ahead is being sent (or retried), not "planned".
const DUE_SLACK_MS = 5000;

function parts(zone, at) {
  return Object.fromEntries(new Intl.DateTimeFormat("fr-FR", { timeZone: zone, hourCycle: "h23", day: "2-digit",
    month: "2-digit", hour: "2-digit", minute: "2-digit" }).formatToParts(at).map((x) => [x.type, x.value]));
}

// "14:30" today in the zone, "08/12 à 14:30" another day.
export function clock(iso, zone, now = new Date()) {
  if (!iso) return "—";
  const at = parts(zone, new Date(iso)), today = parts(zone, now);
  const hour = `${at.hour}:${at.minute}`;
  return at.day === today.day && at.month === today.month ? hour : `${at.day}/${at.month} à ${hour}`;
}

// One message as the regulator reads it: a failure stands out (he may call the patient).
export function messageRow(m, zone, now = new Date()) {
  const row = { kind: MESSAGE_KINDS[m.kind] || m.kind, channel: MESSAGE_CHANNELS[m.channel] || m.channel,
    failed: m.state === "failed", state: m.state, at: "—" };
  if (m.state === "sent") { row.state = "envoyé"; row.at = clock(m.sent_at, zone, now); }
  else if (m.state === "failed") {
    row.state = `échec : ${m.last_error || "raison inconnue"} — prévenir le patient`; row.at = clock(m.failed_at, zone, now);
  } else if (m.state === "withdrawn") { row.state = "retiré"; row.at = "—"; }
  else if (m.state === "pending") {
    const due = m.due_at ? Date.parse(m.due_at) : null;
    if (due !== null && due > now.getTime() + DUE_SLACK_MS) {
      const when = clock(m.due_at, zone, now);
      row.state = m.attempts > 0 ? `en attente, nouvel essai à ${when}` : `prévu ${when.includes("/") ? "le " : "à "}${when}`;
      row.at = when;
    } else row.state = "en attente";
    if (m.attempts > 0 && m.last_error) row.state += ` (dernier essai : ${m.last_error})`;
  }
  return row;
}

// When the call's view reads the call's messages again, by itself: never a steady polling. While a message
// is being sent (or tried again), or an appointment of a patient who wants to be told has none queued yet or
// changed in the last two minutes (booked, cancelled: its messages are queued a moment after), a
// few looks further apart each time (FIRST_MS doubling to MAX_MS, MAX_TRIES in all: a few minutes; then the
// "Actualiser" button, the call's live events and the regulator's actions read it); a reminder not due yet,
// one look when its time comes. Returns { ms, tries } (the tries to pass next time), or null: nothing to wait for.
export const FIRST_MS = 1500, MAX_MS = 60000, MAX_TRIES = 10, MAX_WAIT_MS = 12 * 3600000, RECENT_MS = 120000;
export function nextLook(call, now = Date.now(), tries = 0) {
  const messages = (call && call.messages) || [];
  const pending = messages.filter((m) => m.state === "pending");
  const due = pending.some((m) => !m.due_at || Date.parse(m.due_at) <= now + DUE_SLACK_MS);
  const queued = new Set(messages.map((m) => m.booking_id));
  // The outbox's reader queues a booking's messages (a cancellation's too) a moment after it changed.
  const recent = (b) => now - Date.parse(b.cancelled_at || b.created_at) < RECENT_MS;
  const awaited = call && call.notify && call.notify !== "none" &&
    (call.bookings || []).some((b) => (b.status === "active" && !queued.has(b.id)) || recent(b));
  if (due || awaited) return tries >= MAX_TRIES ? null : { ms: Math.min(FIRST_MS * 2 ** tries, MAX_MS), tries: tries + 1 };
  const later = pending.filter((m) => m.due_at).map((m) => Date.parse(m.due_at));
  if (!later.length) return null;
  const ms = Math.min(...later) - now + 2000;
  return ms <= MAX_WAIT_MS ? { ms, tries: 0 } : null;
}

// Any message given up: said above the table too.
export function anyFailed(messages) { return (messages || []).some((m) => m.state === "failed"); }

// The slip tells how to cancel as the patient's SMS or e-mail does: its link, else the number to call.
export const NOTICE_PHONE = "116 117";
export function slipCancel(notify, phone = NOTICE_PHONE) {
  const by = { sms: "le lien reçu par SMS", email: "le lien reçu par e-mail", both: "le lien reçu par SMS ou par e-mail" }[notify];
  return by ? `Pour annuler : ${by}, ou appelez le ${phone}.` : `Pour annuler : appelez le ${phone}.`;
}

// The slip's date and time as the SMS writes the hour ("mardi 8 décembre 2026 à 9h05"), in the zone given.
export function slipWhen(iso, zone) {
  const at = new Date(iso);
  const day = new Intl.DateTimeFormat("fr-FR", { dateStyle: "full", timeZone: zone }).format(at);
  const p = Object.fromEntries(new Intl.DateTimeFormat("en-GB", { timeZone: zone, hourCycle: "h23", hour: "numeric",
    minute: "2-digit" }).formatToParts(at).map((x) => [x.type, x.value]));
  return `${day} à ${Number(p.hour)}h${p.minute}`;
}
