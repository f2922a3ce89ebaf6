// The booking page of the national SAS platform's link (a Slot's `comment`): /console/agenda/<doctor>/<slot>,
// to which the platform appends origin=sas. The link is kept in this tab through the sign-in (which comes back
// to /console/); once signed in, the slot in its doctor's agenda, what the doctor needs about the patient,
// and — when the slot was taken meanwhile — the doctor's next slots.
import { api } from "../api.js";
import { $, button, item, onSubmit, refuse, say, when } from "../dom.js";
import { MODES, label, linkOf, patientName } from "../i18n.js";
import { showTab } from "./tabs.js";

const KEY = "snp.link";

// The link this tab was opened by, kept until it is booked or the user signs out.
export function pendingLink() {
  const opened = linkOf(location.pathname, location.search);
  if (opened) sessionStorage.setItem(KEY, JSON.stringify(opened));
  try { return JSON.parse(sessionStorage.getItem(KEY) || "null"); } catch { return null; }
}
export function forgetLink() { sessionStorage.removeItem(KEY); }

// Before the sign-in: the page says why it asks for one.
export function askSignIn() {
  showTab("agenda");
  $("#agenda-signin").hidden = false; $("#agenda-body").hidden = true;
}

const page = { agenda: null, slot: null, call: null };

function doctorName(p) { return p ? `Dr ${p.family_name} ${p.given_name || ""}`.trim() : "—"; }
function place(slot) {
  if (!slot || !slot.site) return "—";
  return [slot.site.name, `${slot.site.address || ""} ${slot.site.postcode || ""}`.trim()].filter(Boolean).join(", ");
}

function choose(slot) {
  page.slot = slot;
  $("#agenda-time").textContent = when(slot.start);
  $("#agenda-place").textContent = place(slot);
  $("#agenda-mode").textContent = label(MODES, slot.mode);
  $("#agenda-patient").hidden = false;
  $("#agenda-done").hidden = true;
}

function showNext(agenda) {
  const list = $("#agenda-next"); list.replaceChildren();
  for (const slot of agenda.next_slots) {
    const li = item(`${when(slot.start)} — ${place(slot)} (${label(MODES, slot.mode)}) `);
    li.append(button("Choisir ce créneau", async () => {
      choose(slot); $("#agenda-taken").hidden = true; $("#agenda-patient [name=family_name]").focus();
    }));
    list.append(li);
  }
  if (!agenda.next_slots.length) list.append(item("Aucun autre créneau libre de ce médecin pour l'instant."));
}

// Signed in: the slot as of now, free or taken meanwhile, and the doctor's next slots.
export async function openAgenda(link) {
  showTab("agenda");
  $("#agenda-signin").hidden = true;
  let agenda;
  try { agenda = await api("GET", `/v1/slots/${encodeURIComponent(link.slot)}/agenda`); }
  catch (err) { say(err.message, false); return; }
  page.agenda = agenda;
  $("#agenda-body").hidden = false;
  $("#agenda-doctor").textContent = doctorName(agenda.practitioner);
  const taken = $("#agenda-taken");
  if (agenda.slot) {
    choose(agenda.slot); taken.hidden = true;
  } else {
    page.slot = null;
    $("#agenda-time").textContent = when(agenda.chosen.start);
    $("#agenda-place").textContent = "—";
    $("#agenda-mode").textContent = label(MODES, agenda.chosen.mode);
    $("#agenda-patient").hidden = true;
    taken.textContent = `Ce créneau n'est plus libre (pris, retenu ou retiré entre-temps). `
      + (agenda.next_slots.length ? `Voici les prochains créneaux du ${doctorName(agenda.practitioner)}.` : "Ce médecin n'a pas d'autre créneau libre.");
    taken.hidden = false;
  }
  showNext(agenda);
  $("#agenda-title").focus();
}

function patientOf(f) {
  const patient = {};
  for (const k of ["family_name", "given_name", "sex", "phone", "postcode"]) if (f.get(k)) patient[k] = f.get(k);
  if (f.get("birth_year")) patient.birth_year = Number(f.get("birth_year"));
  return patient;
}

// The patient's call is entered once (a second slot, after one taken meanwhile, books for the same call).
onSubmit("#agenda-patient", async (f, form) => {
  const slot = page.slot;
  if (!slot) return;
  const patient = patientOf(f);
  try {
    if (!page.call) {
      const call = await api("POST", "/v1/calls", { territory_code: page.agenda.call_territory_code, channel: "15",
        patient, reason: f.get("reason") || undefined, samu_case_id: f.get("samu_case_id") || undefined });
      page.call = call.id;
    }
    const booking = await api("POST", "/v1/bookings", { slot_id: slot.id, call_id: page.call },
      { "Idempotency-Key": crypto.randomUUID() });
    form.reset(); form.hidden = true; forgetLink();
    history.replaceState(null, "", "/console/");  // booked: a reload opens the console, not this link again
    $("#agenda-done-text").textContent = `${patientName(patient) || "Le patient"} est attendu(e) par le `
      + `${doctorName(page.agenda.practitioner)} le ${when(slot.start)} — ${place(slot)} (${label(MODES, slot.mode)}). `
      + `Réf. ${String(booking.id).slice(0, 8)}.`;
    $("#agenda-done").hidden = false; $("#agenda-done").focus();
    say("Rendez-vous réservé.");
    page.call = null;
  } catch (err) {
    if (err.kind === "SlotTaken" || err.status === 404) {
      await openAgenda({ slot: page.agenda.chosen.id });
      const taken = $("#agenda-taken");
      taken.textContent = `Ce créneau vient d'être pris par un autre patient. Choisissez un des prochains créneaux du ${doctorName(page.agenda.practitioner)}.`;
      taken.hidden = false; $("#agenda-patient").hidden = true;
      return;
    }
    refuse(form, err);
  }
});
