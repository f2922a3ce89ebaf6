// What the call's view says of the patient's messages, when it looks again, and the slip's words.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { FIRST_MS, MAX_MS, MAX_TRIES, REPORT_STATES, anyFailed, clock, messageRow, nextLook, slipCancel, slipWhen }
  from "../../../app/console/static/notices.js";

const NOW = new Date("2026-12-08T10:00:00Z");  // 11:00 in Paris, 14:00 in La Réunion
const msg = (over) => ({ id: "m", booking_id: "b1", kind: "confirmation", channel: "sms", state: "pending", attempts: 0,
  created_at: "2026-12-08T09:59:00Z", due_at: null, sent_at: null, failed_at: null, last_error: null, ...over });

describe("a message as the regulator reads it", () => {
  it("says kind, channel and when it was sent, in the territory's time", () => {
    const row = messageRow(msg({ state: "sent", sent_at: "2026-12-08T09:59:30Z" }), "Europe/Paris", NOW);
    assert.deepEqual(row, { kind: "confirmation", channel: "SMS", state: "envoyé", at: "10:59", failed: false });
    assert.equal(messageRow(msg({ state: "sent", sent_at: "2026-12-08T09:59:30Z" }), "Indian/Reunion", NOW).at, "13:59");
  });

  it("names every kind and channel in French", () => {
    const kinds = ["confirmation", "reminder", "moved", "cancellation"].map((kind) => messageRow(msg({ kind, channel: "email" }), "Europe/Paris", NOW));
    assert.deepEqual(kinds.map((r) => r.kind), ["confirmation", "rappel", "déplacement", "annulation"]);
    assert.equal(kinds[0].channel, "e-mail");
  });

  it("plans a reminder not due yet at its local hour, with its day when it is not today", () => {
    const today = messageRow(msg({ kind: "reminder", due_at: "2026-12-08T13:30:00Z" }), "Europe/Paris", NOW);
    assert.equal(today.state, "prévu à 14:30");
    const tomorrow = messageRow(msg({ kind: "reminder", due_at: "2026-12-09T07:00:00Z" }), "Europe/Paris", NOW);
    assert.equal(tomorrow.state, "prévu le 09/12 à 08:00");
  });

  it("says a message being sent is waiting, and why its last try failed", () => {
    assert.equal(messageRow(msg({ due_at: NOW.toISOString() }), "Europe/Paris", NOW).state, "en attente");
    const retried = messageRow(msg({ attempts: 2, last_error: "HTTP 503", due_at: "2026-12-08T10:02:00Z" }), "Europe/Paris", NOW);
    assert.equal(retried.state, "en attente, nouvel essai à 11:02 (dernier essai : HTTP 503)");
  });

  it("makes a failure stand out with its reason, and a withdrawn message withdrawn", () => {
    const failed = messageRow(msg({ state: "failed", failed_at: "2026-12-08T09:59:50Z", last_error: "HTTP 500" }), "Europe/Paris", NOW);
    assert.equal(failed.failed, true);
    assert.equal(failed.state, "échec : HTTP 500 — prévenir le patient");
    assert.equal(messageRow(msg({ state: "withdrawn" }), "Europe/Paris", NOW).state, "retiré");
    assert.equal(anyFailed([msg({}), msg({ state: "failed" })]), true);
    assert.equal(anyFailed([msg({ state: "sent" })]), false);
  });

  it("writes a time of another day with its date", () => {
    assert.equal(clock("2026-12-07T19:45:00Z", "Europe/Paris", NOW), "07/12 à 20:45");
    assert.equal(clock(null, "Europe/Paris", NOW), "—");
  });
});

describe("when the call's view looks again by itself", () => {
  const booked = { notify: "sms", bookings: [{ id: "b1", status: "active" }] };
  const now = NOW.getTime();

  it("looks a few times, further apart each time, while a message is being sent", () => {
    const call = { ...booked, messages: [msg({ due_at: NOW.toISOString() })] };
    const delays = []; let look = { tries: 0 };
    while ((look = nextLook(call, now, look.tries))) delays.push(look.ms);
    assert.equal(delays.length, MAX_TRIES);
    assert.equal(delays[0], FIRST_MS);
    assert.equal(delays[1], FIRST_MS * 2);
    assert.equal(Math.max(...delays), MAX_MS);
    assert.ok(delays.reduce((a, b) => a + b) < 10 * 60000, "a few minutes in all, then it stops");
  });

  it("waits for the confirmation of a patient who wants to be told, not for one who does not", () => {
    assert.equal(nextLook({ ...booked, messages: [] }, now).ms, FIRST_MS);
    assert.equal(nextLook({ notify: "none", bookings: booked.bookings, messages: [] }, now), null);
    assert.equal(nextLook({ notify: "sms", bookings: [{ id: "b1", status: "cancelled" }], messages: [] }, now), null);
  });

  it("looks for the messages of an appointment cancelled a moment ago", () => {
    const sent = [msg({ state: "sent" }), msg({ kind: "reminder", due_at: "2026-12-08T13:30:00Z" })];
    const cancelled = (at) => ({ notify: "sms", messages: sent,
      bookings: [{ id: "b1", status: "cancelled", created_at: "2026-12-08T09:00:00Z", cancelled_at: at }] });
    assert.equal(nextLook(cancelled("2026-12-08T09:59:50Z"), now).ms, FIRST_MS);
    assert.equal(nextLook(cancelled("2026-12-08T09:30:00Z"), now).tries, 0, "long ago: only the reminder's time");
  });

  it("stops once everything is sent, given up or withdrawn", () => {
    const call = { ...booked, messages: [msg({ state: "sent" }), msg({ state: "failed" }), msg({ state: "withdrawn" })] };
    assert.equal(nextLook(call, now), null);
  });

  it("looks once when a reminder's time comes, never sooner", () => {
    const call = { ...booked, messages: [msg({ state: "sent" }), msg({ kind: "reminder", due_at: "2026-12-08T13:30:00Z" })] };
    assert.deepEqual(nextLook(call, now, 4), { ms: 3.5 * 3600000 + 2000, tries: 0 });
    const far = { ...booked, messages: [msg({ state: "sent" }), msg({ kind: "reminder", due_at: "2026-12-10T13:30:00Z" })] };
    assert.equal(nextLook(far, now), null);
  });
});

describe("the slip says what the patient's message says", () => {
  it("writes the hour as the SMS does, in the territory's zone", () => {
    assert.equal(slipWhen("2026-12-08T08:05:00Z", "Europe/Paris"), "mardi 8 décembre 2026 à 9h05");
    assert.equal(slipWhen("2026-12-08T08:05:00Z", "Indian/Reunion"), "mardi 8 décembre 2026 à 12h05");
  });

  it("tells how to cancel: the link of the message, or the number to call", () => {
    assert.equal(slipCancel("sms"), "Pour annuler : le lien reçu par SMS, ou appelez le 116 117.");
    assert.equal(slipCancel("none"), "Pour annuler : appelez le 116 117.");
    assert.equal(slipCancel("both", "02 54 00 00 00"), "Pour annuler : le lien reçu par SMS ou par e-mail, ou appelez le 02 54 00 00 00.");
  });

  it("names the report's states", () => {
    assert.deepEqual(Object.values(REPORT_STATES), ["en attente", "envoyé", "échec", "retenu"]);
  });
});
