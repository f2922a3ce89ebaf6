// The ED nurse (or a referring professional) redirects the patient in front of her to a slot, in one
// form, and sees her redirections of the day.
import { api } from "../api.js";
import { $, item, say, when } from "../dom.js";
import { MODES, label } from "../i18n.js";
import { searchSlots } from "./slots.js";

export async function redirect(slot) {
  const f = new FormData($("#redirection"));
  const patient = {};
  for (const k of ["family_name", "given_name", "phone", "postcode"]) if (f.get(k)) patient[k] = f.get(k);
  if (f.get("birth_year")) patient.birth_year = Number(f.get("birth_year"));
  if (!confirm(`Réorienter le patient vers le créneau du ${when(slot.start)} ?`)) return;
  try {
    await api("POST", "/v1/bookings", { slot_id: slot.id, patient, reason: f.get("reason") || undefined,
      no_phone_reason: f.get("no_phone_reason") || undefined },
      { "Idempotency-Key": crypto.randomUUID() });  // this redirection only: a freed slot can take another patient
    $("#redirection").reset(); say("Patient réorienté, le médecin effecteur est prévenu");
    await searchSlots(true); await myRedirections();
  } catch (err) { say(err.message, false); }
}

export async function myRedirections() {
  const list = $("#my-redirections"); list.replaceChildren();
  try {
    const today = new Date().toDateString();
    for (const b of await api("GET", "/v1/bookings?mine=true&limit=100")) {
      if (new Date(b.created_at).toDateString() !== today) continue;
      list.appendChild(item(`${when(b.slot.start)} — ${label(MODES, b.slot.mode)} — ${b.status === "active" ? "réservé" : "annulé"}`));
    }
  } catch (err) { say(err.message, false); }
}
