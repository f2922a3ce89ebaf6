// The CPTS coordinator's view of the patients without a médecin traitant (docs/mt.md): the waiting list by
// priority with its reasons, the counts by state, a request's record (its reading is audited by the server),
// the candidates nearest the patient, a proposal the patient chose, the doctors' answers, "trouvé", closing,
// the priority changed with a reason.
import { api } from "../api.js";
import { $, button, cell, onSubmit, refuse, say } from "../dom.js";
import { label, patientName } from "../i18n.js";
import { MT_CLOSED, MT_PRIORITIES, MT_PROPOSALS, MT_REFUSALS, MT_SOURCES, MT_STATES, OPEN_STATES, doctorName, kmText,
  mergeLists, patientBrief, patientPoint, priorityText, publicsText, today } from "../mt.js";
import { newest, state } from "../state.js";
import { loadDoctors, markCandidates } from "./mtmap.js";
import { whenShown } from "./tabs.js";

const PAGE = 500;
const COUNTED = ["waiting", "proposed", "accepted", "found", "closed"];
const chosenNames = new Map();  // the open request's candidates: practitioner id → "Dr Claire Martin"

// The requests of a state (and a priority) in the territory, page after page (a reading the server audits).
async function everyOf(which, priority) {
  const all = [];
  for (let offset = 0; offset < 20 * PAGE; offset += PAGE) {
    const q = new URLSearchParams({ territory: state.territory, state: which, limit: String(PAGE), offset: String(offset) });
    if (priority) q.set("priority", priority);
    const page = await api("GET", `/v1/mt-requests?${q}`);
    all.push(...page);
    if (page.length < PAGE) break;
  }
  return all;
}

// The counts by state (numbers only: GET /v1/mt-requests/counts), and the lines of the list shown.
export async function loadCoordination() {
  const current = newest("mt");
  try {
    const f = new FormData($("#mt-filter"));
    const chosen = f.get("state"), priority = f.get("priority");
    const [counts, lines] = await Promise.all([
      api("GET", `/v1/mt-requests/counts?${new URLSearchParams({ territory: state.territory })}`),
      chosen === "open" ? Promise.all(OPEN_STATES.map((s) => everyOf(s, priority))).then(mergeLists)
        : everyOf(chosen, priority)]);
    if (!current()) return;
    for (const s of COUNTED) $(`#mt-count-${s}`).textContent = String(counts[s]);
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
  const taken = r.proposals.find((x) => x.state === "accepted" && x.practitioner_id === r.practitioner_id);
  if (r.practitioner_id) {
    add("Médecin traitant", taken ? [doctorName(taken), taken.site_name].filter(Boolean).join(", ") : "médecin");
  }
  add("Première consultation", r.first_visit_on);
  showProposals(r);
  const open = r.state === "waiting" || r.state === "proposed";
  $("#mt-propose").hidden = !open; $("#mt-priority").hidden = !open;
  $("#mt-found").hidden = r.state !== "accepted";
  $("#mt-close").hidden = !OPEN_STATES.includes(r.state);
  const day = $("#mt-found [name=first_visit_on]"); day.max = today(state.timeZone); day.min = r.created_at.slice(0, 10);
  $("#mt-priority [name=priority]").value = r.priority;
  if (open) await showCandidates(r); else markCandidates([], patientPoint(r));
  if (focus) $("#mt-detail-title").focus();
}

// Each proposal with its doctor and his site, as the record names them.
function showProposals(r) {
  const list = $("#mt-proposals"); list.replaceChildren();
  for (const p of r.proposals) {
    const li = document.createElement("li"); li.dataset.proposal = p.id; li.dataset.state = p.state;
    li.textContent = [doctorName(p), label(MT_PROPOSALS, p.state),
      p.refusal_reason ? `raison : ${label(MT_REFUSALS, p.refusal_reason)}` : null, p.site_name,
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
  chosenNames.clear();
  for (const c of candidates) {
    chosenNames.set(c.practitioner_id, doctorName(c));
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
  markCandidates(candidates.map((c) => c.site.id), patientPoint(r));
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
    const named = chosenNames.get(id) || "médecin";
    form.reset(); await done(`Proposition envoyée au ${named}`);
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
