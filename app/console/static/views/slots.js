// The free slots: searched for the open call (its patient's postcode and age), held, then booked.
import { api } from "../api.js";
import { $, busy, cell, confirmInPlace, refuse, say, when } from "../dom.js";
import {
  AUDIENCES, HELD_ELSEWHERE, MODES, bookersLabel, distanceLabel, label, languagesLabel, searchSort, slotChange,
} from "../i18n.js";
import { newest, state } from "../state.js";
import { fromLocal } from "../time.js";
import { openCall } from "./call.js";
import { watchSlots } from "./live.js";
import { redirect } from "./redirection.js";
import { DIRECT, showTab } from "./tabs.js";

$("#search").addEventListener("submit", (e) => { e.preventDefault(); searchSlots(); });

// This console's own holds (slot id → the slot, the call, until when, the booking's key): a list searched again
// while a slot is held (the user's own search, the refresh after a booking) shows it first, held still, its
// countdown going (the search gives free slots only); a hold answered after a newer list was drawn marks its row.
const mine = new Map();
const heldHere = (slotId) => {
  const hold = mine.get(slotId);
  return hold && hold.call === state.call?.id && hold.until > Date.now() ? hold : null;
};

export async function searchSlots(quiet = false) {
  const f = new FormData($("#search"));
  const q = new URLSearchParams({ territory: state.territory, limit: "50" });
  for (const k of ["mode", "near_postcode", "radius_km", "sort"]) if (f.get(k)) q.set(k, f.get(k));
  // For the open call: its patient's postcode gives the point, his age the children's slots.
  if (state.call) q.set("call_id", state.call.id);
  q.set("sort", searchSort(f.get("sort"), Boolean(q.get("near_postcode") || state.call?.patient?.postcode)));
  for (const k of ["start_from", "start_to"]) if (f.get(k)) q.set(k, fromLocal(f.get(k), state.timeZone).toISOString());
  const current = newest("slots");
  try {
    const found = await api("GET", `/v1/slots/search?${q}`);
    if (!current()) return;
    const rows = Array.isArray(found) ? found : found.items || [];
    const held = [...mine.keys()].filter((id) => heldHere(id) && !rows.some((r) => r.id === id))
      .map((id) => mine.get(id).slot);
    // The slot whose control has the focus keeps it in the list drawn again (the user's hand is on it).
    const focused = document.activeElement?.closest?.("#slots tr")?.dataset.slot;
    const body = $("#slots tbody"); body.replaceChildren();
    for (const s of [...held, ...rows]) {
      const tr = document.createElement("tr"); tr.dataset.slot = s.id;
      const doctor = s.practitioner ? `Dr ${s.practitioner.family_name} ${s.practitioner.given_name || ""}` : "";
      const site = s.site ? `${s.site.name}, ${s.site.address || ""} ${s.site.postcode || ""}` : "";
      cell(tr, when(s.start)); cell(tr, when(s.end)); cell(tr, doctor); cell(tr, site); cell(tr, label(MODES, s.mode));
      cell(tr, distanceLabel(s.distance_km));
      cell(tr, `${label(AUDIENCES, s.audience)} — ${languagesLabel(s.practitioner?.languages)}`);
      cell(tr, bookersLabel(s.bookable_by));
      const control = document.createElement("button"); control.type = "button"; control.className = "take";
      control.textContent = DIRECT.includes(state.me?.role) ? "Réorienter ici" : "Retenir";
      control.onclick = () => busy(control, () => book(s, control));
      cell(tr, "").appendChild(control);
      body.appendChild(tr);
      const hold = heldHere(s.id);
      if (hold) showHeld(control, s.id, hold);
    }
    if (focused) body.querySelector(`tr[data-slot="${focused}"] button.take`)?.focus();
    if (!quiet) say(`${rows.length} créneau(x) libre(s)` + (held.length ? `, ${held.length} retenu(s) pour cet appel` : ""));
  } catch (err) { refuse($("#search"), err); }
}

// First click holds the slot (a countdown shows how long), second click books it.
async function book(slot, control) {
  if (DIRECT.includes(state.me?.role)) return redirect(slot, control);
  if (!state.call) { say("Ouvrez d'abord l'appel du patient (onglet Appels)", false); return; }
  const call = state.call;
  if (control.dataset.held !== "yes") {
    try {
      const hold = await api("POST", `/v1/slots/${slot.id}/hold`, { call_id: call.id });
      // One key per hold: a retry of this booking replays its answer, a later booking of the same slot
      // for the same call (after a cancellation) is a new booking.
      const held = { slot, call: call.id, until: new Date(hold.held_until).getTime(), key: crypto.randomUUID() };
      mine.set(slot.id, held);
      const shown = document.querySelector(`#slots tr[data-slot="${slot.id}"] button.take`);
      if (shown && shown !== control) {  // a newer list was drawn meanwhile: its row is the one to mark
        showHeld(shown, slot.id, held);
        if (!control.isConnected && (!document.activeElement || document.activeElement === document.body)) shown.focus();
      } else showHeld(control, slot.id, held);
      say(`Créneau du ${when(slot.start)} retenu : confirmez avec le patient puis cliquez « Réserver ».`);
    } catch (err) { say(err.message, false); }
    return;
  }
  const body = { slot_id: slot.id, call_id: call.id };
  const active = (call.bookings || []).filter((x) => x.status === "active");
  if (state.replacing) body.replaces = state.replacing;
  else if (active.length) {
    confirmInPlace(control, "Cet appel a déjà un rendez-vous actif. Ajouter un second rendez-vous ?",
      "Ajouter un second rendez-vous", () => place(call, { ...body, also: true }, control));
    return;
  }
  await place(call, body, control);
}

// The control of a slot held here: "Réserver" with the hold's countdown, "Retenir" again when it lapses.
function showHeld(control, slotId, held) {
  control.dataset.held = "yes";
  control.dataset.key = held.key;
  const tick = () => {
    const left = Math.max(0, Math.round((held.until - Date.now()) / 1000));
    if (!control.isConnected) { clearInterval(timer); return; }  // its row was replaced: the new one counts
    control.textContent = `Réserver (${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")})`;
    if (left === 0) {
      clearInterval(timer); control.dataset.held = ""; control.textContent = "Retenir";
      if (mine.get(slotId) === held) mine.delete(slotId);
    }
  };
  const timer = setInterval(tick, 1000); tick();
}

async function place(call, body, control) {
  try {
    await api("POST", "/v1/bookings", body, { "Idempotency-Key": control.dataset.key });
    mine.delete(body.slot_id);
    state.replacing = null;
    await searchSlots(true); await openCall(call.id);
    // Back on the call, where the appointment is written in full to be read back to the patient.
    showTab("calls"); $("#call-bookings").scrollIntoView({ block: "nearest" });
    say("Créneau réservé, le médecin effecteur est prévenu");
    $("#call-bookings").focus();
  } catch (err) { say(err.message, false); return false; }
  return true;
}

// A slot shown, held, released or booked elsewhere: its row changes in place (the rest of the list, and
// the user's own hold, stay as they are). Held by another call: marked and not offered; booked: gone.
watchSlots((name, data) => {
  const slots = data.slots || (data.slot_ids || []).map((id) => ({ slot_id: id }));
  for (const slot of slots) changeRow(name, slot);
});

function changeRow(name, data) {
  const row = document.querySelector(`#slots tr[data-slot="${data.slot_id}"]`);
  if (!row) return;
  const control = row.querySelector("button.take");
  const change = slotChange(name, data, state.call?.id);
  if (change === "remove") { if (control?.dataset.held !== "yes") row.remove(); return; }
  if (!control || control.dataset.held === "yes") return;
  if (change === "held_elsewhere") {
    row.classList.add("held-elsewhere"); control.disabled = true; control.textContent = HELD_ELSEWHERE;
  } else if (change === "free" && row.classList.contains("held-elsewhere")) {
    row.classList.remove("held-elsewhere"); control.disabled = false;
    control.textContent = DIRECT.includes(state.me?.role) ? "Réorienter ici" : "Retenir";
  }
}
