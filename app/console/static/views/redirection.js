// The ED nurse (or a referring professional) redirects the patient in front of her to a slot, in one
// form, and sees her redirections of the day.
import { api } from "../api.js";
import { $, confirmInPlace, item, refuse, say, when } from "../dom.js";
import { MODES, label, patientName } from "../i18n.js";
import { slipCancel, slipWhen } from "../notices.js";
import { state } from "../state.js";
import { searchSlots } from "./slots.js";

// Confirmed in place, beside the slot; the form is read when she confirms (she may correct it meanwhile).
export async function redirect(slot, control) {
  confirmInPlace(control, `Réorienter le patient vers le créneau du ${when(slot.start)} ?`, "Confirmer la réorientation",
    () => send(slot));
}

async function send(slot) {
  const f = new FormData($("#redirection"));
  const patient = {};
  for (const k of ["family_name", "given_name", "phone", "postcode", "email"]) if (f.get(k)) patient[k] = f.get(k);
  if (f.get("birth_year")) patient.birth_year = Number(f.get("birth_year"));
  // The patient is told of his appointment only when he (or a parent) agreed, as on a call: no consent, no message.
  const consent = f.get("notify_consent") || undefined;
  const notify = consent ? f.get("notify") : "none";
  try {
    const booking = await api("POST", "/v1/bookings", { slot_id: slot.id, patient, reason: f.get("reason") || undefined,
      no_phone_reason: f.get("no_phone_reason") || undefined, notify, notify_consent: consent },
      { "Idempotency-Key": crypto.randomUUID() });  // this redirection only: a freed slot can take another patient
    $("#redirection").reset(); say("Patient réorienté, le médecin effecteur est prévenu");
    await showSlip(slot, booking, patient, notify);
    await searchSlots(true); await myRedirections();
  } catch (err) { refuse($("#redirection"), err); return false; }
}

// The confirmation the nurse reads back and prints for the patient: the doctor, where, when (the
// territory's local time, Europe/Paris in metropolitan France, the hour written as the SMS writes it), how,
// and how to cancel as his SMS or e-mail says it.
export const SLIP_ZONE = "Europe/Paris";
export function slipTime(iso, zone = SLIP_ZONE) {
  return `${slipWhen(iso, zone)}${zone === SLIP_ZONE ? " (heure de Paris)" : ` (heure locale, ${zone})`}`;
}

// What the slip says of the patient's own message (the same appointment, by SMS or e-mail).
export const SLIP_NOTICE = {
  sms: "envoyée au patient par SMS, avec un lien pour annuler",
  email: "envoyée au patient par e-mail, avec un lien pour annuler",
  both: "envoyée au patient par SMS et par e-mail, avec un lien pour annuler",
  none: "aucun message au patient : ce bon fait foi",
};

async function showSlip(slot, booking, patient, notify = "none") {
  const doctor = slot.practitioner || {};
  let site = slot.site || {};
  try { site = { ...site, ...(await api("GET", `/v1/sites/${booking.slot.site_id}`)) }; } catch { /* the search's copy */ }
  const start = (booking.slot && booking.slot.start) || slot.start;
  const mode = (booking.slot && booking.slot.mode) || slot.mode;
  $("#slip-patient").textContent = [patientName(patient), patient.birth_year ? `né(e) en ${patient.birth_year}` : ""]
    .filter(Boolean).join(", ") || "—";
  $("#slip-doctor").textContent = doctor.family_name ? `Dr ${doctor.family_name} ${doctor.given_name || ""}`.trim() : "—";
  $("#slip-address").textContent = [site.name, `${site.address || ""} ${site.postcode || ""}`.trim(),
    site.phone ? `tél. ${site.phone}` : ""].filter(Boolean).join(", ");
  $("#slip-time").textContent = slipTime(start, state.timeZone || SLIP_ZONE);
  $("#slip-mode").textContent = label(MODES, mode);
  $("#slip-notice").textContent = SLIP_NOTICE[notify] || SLIP_NOTICE.none;
  $("#slip-cancel").textContent = slipCancel(notify);
  $("#slip-booked").textContent = `Réservé le ${when(booking.created_at)}, réf. ${String(booking.id).slice(0, 8)}`;
  const slip = $("#ed-slip"); slip.hidden = false; slip.focus();
}
$("#print-slip").addEventListener("click", () => window.print());

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
