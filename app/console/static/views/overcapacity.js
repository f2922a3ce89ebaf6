// Nothing fits: an over-capacity appointment with a doctor who agreed on the phone, for the open call.
import { api } from "../api.js";
import { $, onSubmit, refuse, say } from "../dom.js";
import { state } from "../state.js";
import { fromLocal } from "../time.js";
import { openCall } from "./call.js";
import { whenShown } from "./tabs.js";

// The doctors of the territory, and for the one chosen his phone (to agree the appointment) and his own
// sites only: the API records an over-capacity appointment nowhere else.
let choices = { doctors: [], sites: new Map() };

async function loadOverCapacityChoices() {
  try {
    const [doctors, sites] = await Promise.all([
      api("GET", `/v1/practitioners?territory=${encodeURIComponent(state.territory)}&limit=200`),
      api("GET", `/v1/sites?territory=${encodeURIComponent(state.territory)}&limit=200`)]);
    choices = { doctors, sites: new Map(sites.map((x) => [x.id, x])) };
    const pick = $("#oc-practitioner"); pick.replaceChildren();
    for (const d of doctors) pick.append(new Option(`Dr ${d.family_name} ${d.given_name}${d.accepts_over_capacity ? "" : " (n'accepte pas)"}`, d.id));
    showDoctor();
  } catch (err) { say(err.message, false); }
}

export function doctorPhone(doctor) {
  if (!doctor) return "";
  return doctor.phone ? `Téléphone du Dr ${doctor.family_name} : ${doctor.phone}` : `Dr ${doctor.family_name} : pas de téléphone enregistré`;
}

function showDoctor() {
  const doctor = choices.doctors.find((d) => d.id === $("#oc-practitioner").value);
  $("#oc-phone").textContent = doctorPhone(doctor);
  const where = $("#oc-site"); where.replaceChildren();
  for (const id of (doctor && doctor.site_ids) || []) {
    const site = choices.sites.get(id);
    if (site) where.append(new Option(`${site.name}, ${site.postcode}`, site.id));
  }
  if (doctor && !where.options.length) $("#oc-phone").textContent += " — aucun lieu d'exercice enregistré : il ne peut pas être sollicité en surnuméraire";
}
$("#oc-practitioner").addEventListener("change", showDoctor);

// The form is the regulation's only (hidden for the other roles): its choices load with the tab.
whenShown("slots", () => { if (!$("#over-capacity").hidden) loadOverCapacityChoices(); });

onSubmit("#over-capacity", async (f) => {
  if (!state.call) { say("Ouvrez d'abord l'appel du patient (onglet Appels)", false); return; }
  const start = fromLocal(f.get("start"), state.timeZone);
  const end = new Date(start.getTime() + Number(f.get("minutes")) * 60000);
  try {
    await api("POST", "/v1/bookings", { kind: "over_capacity", call_id: state.call.id, practitioner_id: f.get("practitioner_id"),
      site_id: f.get("site_id"), start: start.toISOString(), end: end.toISOString(), mode: f.get("mode") });
    say("Rendez-vous en surnuméraire enregistré, le médecin est prévenu"); await openCall(state.call.id);
  } catch (err) { refuse($("#over-capacity"), err); }
});
