// The call's messages to the patient: what was sent about each appointment, on which channel, and whether it
// was delivered, in the territory's time; a message given up is said above the table (the regulator calls the
// patient). Read again with the call (each action), on the call's live events, with "Actualiser", and by
// itself only while something is on its way (notices.js nextLook: a few looks, further apart each time).
import { api } from "../api.js";
import { $, cell, guard } from "../dom.js";
import { anyFailed, clock, messageRow, nextLook } from "../notices.js";
import { state } from "../state.js";
import { watch } from "./live.js";

let timer = null, tries = 0, shown = 0, starts = new Map();

// `appointments`: each booking's start (the call's view reads them); given when the call was read in full.
export function showMessages(call, appointments) {
  if (appointments) { starts = appointments; tries = 0; }
  shown += 1;
  const messages = call.messages || [], now = new Date(), zone = state.timeZone;
  const body = $("#call-messages tbody"); body.replaceChildren();
  for (const m of messages) {
    const row = messageRow(m, zone, now), tr = document.createElement("tr");
    if (row.failed) tr.className = "failed";
    cell(tr, starts.has(m.booking_id) ? clock(starts.get(m.booking_id), zone, now) : "—");
    for (const text of [row.kind, row.channel, row.state, row.at]) cell(tr, text);
    body.appendChild(tr);
  }
  const none = !messages.length;
  for (const id of ["#call-messages-title", "#call-messages", "#refresh-messages"]) $(id).hidden = none;
  const failed = $("#call-messages-failed");
  failed.hidden = !anyFailed(messages);
  failed.textContent = failed.hidden ? "" : "Un message n'a pas pu être remis au patient : appelez-le pour lui redire son rendez-vous.";
  clearTimeout(timer); timer = null;
  const next = nextLook(call, now.getTime(), tries);
  if (next) { tries = next.tries; timer = setTimeout(look, next.ms); }
}

// The call read again for its messages only (its appointments are not read again).
async function look() {
  const id = state.call && state.call.id, seen = shown;
  if (!id) return;
  try {
    const call = await api("GET", `/v1/calls/${id}`);
    if (!state.call || state.call.id !== id || shown !== seen) return;  // another call, or a newer reading
    state.call.messages = call.messages;
    showMessages(call);
  } catch { /* read again at the next action, event or "Actualiser" */ }
}

guard("#refresh-messages", async () => { tries = 0; await look(); });

// Something happened to the open call (cancelled through the patient's link, booked, re-oriented): its
// messages follow.
watch((name, data) => {
  if (!state.call || data.call_id !== state.call.id) return;
  clearTimeout(timer); timer = setTimeout(look, 300);
});
