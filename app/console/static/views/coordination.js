// The CPTS coordinator's view of the patients without a médecin traitant (docs/mt.md): the waiting list by
// priority with its reasons, the counts by state, a request's record (its reading is audited by the server),
// the candidates nearest the patient, a proposal the patient chose, the doctors' answers, "trouvé", closing,
// the priority changed with a reason.
import { api } from "../api.js";
import { $, button, cell, onSubmit, refuse, say } from "../dom.js";
import { label, patientName } from "../i18n.js";
import { MT_CLOSED, MT_PRIORITIES, MT_PROPOSALS, MT_REFUSALS, MT_SOURCES, MT_STATES, OPEN_STATES, doctorName, kmText,
  mergeLists, patientBrief, priorityText, publicsText, today } from "../mt.js";
import { newest, state } from "../state.js";
import { doctorNamed, loadDoctors, markCandidates } from "./mtmap.js";
import { whenShown } from "./tabs.js";

const PAGE = 500;
const COUNTED = ["waiting", "proposed", "accepted", "found"];

// Every request of a state in the territory, page after page (a reading the server audits).
async function everyOf(which) {
  const all = [];
  for (let offset = 0; offset < 20 * PAGE; offset += PAGE) {
    const q = new URLSearchParams({ territory: state.territory, state: which, limit: String(PAGE), offset: String(offset) });
    const page = await api("GET", `/v1/mt-requests?${q}`);
    all.push(...page);
    if (page.length < PAGE) break;
  }
  return all;
}

export async function loadCoordination() {
  const current = newest("mt");
  try {
    const lists = Object.fromEntries(await Promise.all(COUNTED.map(async (s) => [s, await everyOf(s)])));
    const f = new FormData($("#mt-filter"));
    const chosen = f.get("state");
    let lines = chosen === "open" ? mergeLists(OPEN_STATES.map((s) => lists[s]))
      : chosen === "closed" ? await everyOf("closed") : lists[chosen];
    if (!current()) return;
    for (const s of COUNTED) $(`#mt-count-${s}`).textContent = String(lists[s].length);
    if (f.get("priority")) lines = lines.filter((r) => r.priority === f.get("priority"));
    renderList(lines);
  } catch (err) { say(err.message, false); }
  await loadDoctors();
}
whenShown("mt", loadCoordination);

function renderList(lines) {
  const body = $("#mt-list tbody"); body.replaceChildren();
  for (const r of lines) {
    const tr = document.createElement("tr"); tr.dataset.request = r.id;
    cell(tr, priorityText(r)).className = `mt-priority ${r.priority}`;
    cell(tr, patientBrief(r));
    cell(tr, publicsText([...new Set([...r.publics, ...r.matching_publics])]));
    cell(tr, `${r.waiting_days} j`);
    cell(tr, label(MT_STATES, r.state) + (r.closed_reason ? ` (${label(MT_CLOSED, r.closed_reason)})` : ""));
    cell(tr, "").appendChild(button("Ouvrir", () => openRequest(r.id, true)));
    body.appendChild(tr);
  }
  if (!lines.length) {
    const tr = document.createElement("tr"); cell(tr, "Aucune demande.").colSpan = 6; body.appendChild(tr);
  }
}

// A request's record, and what may be done with it now.
export async function openRequest(id, focus = false) {
  const current = newest("mt-request");
  let r;
  try { r = await api("GET", `/v1/mt-requests/${id}`); } catch (err) { say(err.message, false); return; }
  if (!current()) return;
  state.mtRequest = r;
  const p = r.patient || {};
  $("#mt-detail").hidden = false;
  $("#mt-detail-title").textContent = `Demande de ${patientName(p) || p.initials || "patient"}`;
  const info = $("#mt-info"); info.replaceChildren();
  const add = (term, value) => {
    if (value == null || value === "") return;
    const dt = document.createElement("dt"); dt.textContent = term;
    const dd = document.createElement("dd"); dd.textContent = value; info.append(dt, dd);
  };
  add("État", label(MT_STATES, r.state) + (r.closed_reason ? ` : ${label(MT_CLOSED, r.closed_reason)}` : ""));
  add("Priorité", priorityText(r));
  if (r.priority_adjustment) add("Raison de la priorité", `${r.priority_adjustment.reason || "—"} (${r.priority_adjustment.by})`);
  add("Patient", [patientName(p), p.birth_year ? `né(e) en ${p.birth_year}` : null, p.age != null ? `${p.age} ans` : null,
    p.sex].filter(Boolean).join(", "));
  add("Téléphone", p.phone); add("Code postal", p.postcode); add("Adresse", p.address); add("E-mail", p.email);
  add("Déclaré", publicsText(r.publics)); add("Publics (pour les médecins)", publicsText(r.matching_publics));
  add("Source", label(MT_SOURCES, r.source)); add("En attente depuis", `${r.waiting_days} jour(s)`);
  add("Note", r.note);
  if (r.practitioner_id) add("Médecin traitant", await doctorNamed(r.practitioner_id));
  add("Première consultation", r.first_visit_on);
  await showProposals(r);
  const open = r.state === "waiting" || r.state === "proposed";
  $("#mt-propose").hidden = !open; $("#mt-priority").hidden = !open;
  $("#mt-found").hidden = r.state !== "accepted";
  $("#mt-close").hidden = !OPEN_STATES.includes(r.state);
  const day = $("#mt-found [name=first_visit_on]"); day.max = today(state.timeZone); day.min = r.created_at.slice(0, 10);
  $("#mt-priority [name=priority]").value = r.priority;
  if (open) await showCandidates(r); else markCandidates([]);
  if (focus) $("#mt-detail-title").focus();
}

async function showProposals(r) {
  const list = $("#mt-proposals"); list.replaceChildren();
  for (const p of r.proposals) {
    const li = document.createElement("li"); li.dataset.proposal = p.id; li.dataset.state = p.state;
    li.textContent = [await doctorNamed(p.practitioner_id), label(MT_PROPOSALS, p.state),
      p.refusal_reason ? `raison : ${label(MT_REFUSALS, p.refusal_reason)}` : null,
      `proposée le ${state.format.format(new Date(p.created_at))}`,
      p.answered_at ? `réponse le ${state.format.format(new Date(p.answered_at))}` : null,
      p.distance_km != null ? kmText(p.distance_km) : null].filter(Boolean).join(" — ");
    list.appendChild(li);
  }
  if (!r.proposals.length) { const li = document.createElement("li"); li.textContent = "Aucune proposition."; list.appendChild(li); }
}

async function showCandidates(r) {
  const body = $("#mt-candidates tbody"); body.replaceChildren();
  let candidates = [];
  try { candidates = await api("GET", `/v1/mt-requests/${r.id}/candidates`); } catch (err) { say(err.message, false); }
  for (const c of candidates) {
    const tr = document.createElement("tr"); tr.dataset.practitioner = c.practitioner_id;
    const radio = document.createElement("input"); radio.type = "radio"; radio.name = "practitioner_id";
    radio.value = c.practitioner_id; radio.setAttribute("aria-label", `Choisir ${doctorName(c)}`);
    cell(tr, "").appendChild(radio);
    cell(tr, doctorName(c)); cell(tr, kmText(c.distance_km)); cell(tr, publicsText(c.publics));
    cell(tr, String(c.capacity_left)); cell(tr, `${c.site.name}, ${c.site.postcode}`);
    body.appendChild(tr);
  }
  if (!candidates.length) {
    const tr = document.createElement("tr");
    cell(tr, "Aucun médecin ne peut prendre ce patient ce mois-ci (publics, places, lieux).").colSpan = 6; body.appendChild(tr);
  }
  $("#mt-propose button[type=submit]").disabled = !candidates.length;
  markCandidates(candidates.map((c) => c.site.id));
}

// After an action: the record again, and the list and counts.
async function done(message) { say(message); await openRequest(state.mtRequest.id); await loadCoordination(); }

onSubmit("#mt-filter", () => loadCoordination());

onSubmit("#mt-propose", async (f, form) => {
  const id = f.get("practitioner_id");
  if (!id) { say("Choisissez le médecin que le patient a choisi.", false); return; }
  if (f.get("patient_agreed") !== "on") { say("Cochez « Le patient a choisi ce médecin » : c'est lui qui choisit.", false); return; }
  try {
    await api("POST", `/v1/mt-requests/${state.mtRequest.id}/proposals`, { practitioner_id: id, patient_agreed: true });
    form.reset(); await done(`Proposition envoyée au ${await doctorNamed(id)}`);
  } catch (err) { refuse(form, err); }
}, () => !$("#mt-candidates input[type=radio]"));

onSubmit("#mt-found", async (f, form) => {
  try {
    await api("POST", `/v1/mt-requests/${state.mtRequest.id}/found`, { first_visit_on: f.get("first_visit_on") });
    form.reset(); await done("Médecin traitant trouvé");
  } catch (err) { refuse(form, err); }
});

onSubmit("#mt-priority", async (f, form) => {
  try {
    await api("POST", `/v1/mt-requests/${state.mtRequest.id}/priority`, { priority: f.get("priority"), reason: f.get("reason").trim() });
    form.reset(); await done(`Priorité changée : ${label(MT_PRIORITIES, f.get("priority"))}`);
  } catch (err) { refuse(form, err); }
});

onSubmit("#mt-close", async (f, form) => {
  try {
    await api("POST", `/v1/mt-requests/${state.mtRequest.id}/close`, { reason: f.get("reason") });
    await done(`Demande close : ${label(MT_CLOSED, f.get("reason"))}`);
  } catch (err) { refuse(form, err); }
});
