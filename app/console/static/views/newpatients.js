// The doctor's side of the patients without a médecin traitant, in his own view: his offer to take new patients
// (PUT /v1/practitioners/me/new-patients: how many a month, which publics, at which of his sites, until when,
// the public list), and the patients the coordination proposes to him, to accept or refuse with a reason.
import { api } from "../api.js";
import { $, button, item, onSubmit, refuse, say } from "../dom.js";
import { label, patientName } from "../i18n.js";
import { MT_PROPOSALS, MT_REFUSALS, MT_STATES, patientBrief, publicsText, today } from "../mt.js";
import { state } from "../state.js";

// His offer and his proposals; `self` (GET /v1/practitioners/{id}) names his own sites among `sites`.
export async function showNewPatients(self, sites) {
  const [offer, proposals] = await Promise.all([api("GET", "/v1/practitioners/me/new-patients"),
    api("GET", "/v1/mt-proposals?limit=100")]);
  showOffer(offer, sites.filter((s) => (self.site_ids || []).includes(s.id)));
  showProposals(proposals);
}

function showOffer(offer, own) {
  const form = $("#my-new-patients");
  form.elements.accepting.checked = offer.accepting;
  form.elements.per_month.value = offer.per_month;
  for (const box of form.querySelectorAll("[name=publics]")) box.checked = offer.publics.includes(box.value);
  form.elements.until.value = offer.until || "";
  form.elements.until.min = today(state.timeZone);
  form.elements.public_listing.checked = offer.public_listing;
  const chosen = new Set(offer.site_ids);
  const list = $("#my-np-sites"); list.querySelectorAll("label, p").forEach((x) => x.remove());
  for (const site of own) {
    const box = document.createElement("input"); box.type = "checkbox"; box.name = "site_ids"; box.value = site.id;
    box.checked = chosen.has(site.id);
    const line = document.createElement("label"); line.append(box, ` ${site.name}, ${site.postcode}`);
    list.appendChild(line);
  }
  if (!own.length) {
    const p = document.createElement("p"); p.textContent = "Cochez d'abord vos lieux d'exercice dans « Mes réglages ».";
    list.appendChild(p);
  }
  showLoad(offer);
}

function showLoad(offer) {
  $("#my-np-load").textContent = offer.accepting
    ? `Ce mois-ci : ${offer.taken_this_month} nouveau(x) patient(s) accepté(s), ${offer.capacity_left} place(s) restante(s).`
    : "Vous ne prenez pas de nouveaux patients pour l'instant.";
}

onSubmit("#my-new-patients", async (f, form) => {
  const body = { accepting: f.get("accepting") === "on", per_month: Number(f.get("per_month") || 0), publics: f.getAll("publics"),
    site_ids: f.getAll("site_ids"), until: f.get("until") || null, public_listing: f.get("public_listing") === "on" };
  try {
    const offer = await api("PUT", "/v1/practitioners/me/new-patients", body);
    say(offer.accepting ? "Offre enregistrée : la coordination peut vous proposer des patients" : "Offre enregistrée : vous ne prenez pas de nouveaux patients");
    showLoad(offer);
  } catch (err) { refuse(form, err); }
});

// Each proposal, the newest first: the patient at a glance (his name and phone once accepted), his answer.
function showProposals(proposals) {
  const list = $("#my-mt-proposals"); list.replaceChildren();
  for (const p of proposals) {
    const r = p.request;
    const li = item(`${patientBrief(r)} — ${publicsText([...new Set([...r.publics, ...r.matching_publics])])} — ` +
      `proposé le ${state.format.format(new Date(p.created_at))} — ${label(MT_PROPOSALS, p.state)}` +
      `${p.refusal_reason ? ` (${label(MT_REFUSALS, p.refusal_reason)})` : ""}` +
      `${p.state === "accepted" ? ` — ${label(MT_STATES, r.state)}` : ""} `);
    li.dataset.proposal = p.id; li.dataset.state = p.state;
    if (p.state === "pending") answer(li, p);
    if (p.state === "accepted") li.append(button("Coordonnées du patient", () => contact(li, r.id)));
    if (p.state === "accepted" && r.state === "accepted") firstVisit(li, r);
    list.appendChild(li);
  }
  if (!proposals.length) list.appendChild(item("Aucun patient ne vous a été proposé."));
}

async function reload() {
  const proposals = await api("GET", "/v1/mt-proposals?limit=100");
  showProposals(proposals);
  const offer = await api("GET", "/v1/practitioners/me/new-patients");
  showLoad(offer);
}

function answer(li, p) {
  li.append(button("Accepter ce patient", async () => {
    try { await api("POST", `/v1/mt-proposals/${p.id}/accept`); say("Patient accepté : la coordination est prévenue"); await reload(); }
    catch (err) { say(err.message, false); }
  }));
  const why = document.createElement("select"); why.setAttribute("aria-label", "Raison du refus");
  for (const [code, text] of Object.entries(MT_REFUSALS)) why.append(new Option(text, code));
  li.append(" ", why, " ", button("Refuser", async () => {
    try { await api("POST", `/v1/mt-proposals/${p.id}/refuse`, { reason: why.value }); say("Proposition refusée"); await reload(); }
    catch (err) { say(err.message, false); }
  }));
}

// The patient's identity, once he accepted him (the reading is audited by the server).
async function contact(li, requestId) {
  try {
    const r = await api("GET", `/v1/mt-requests/${requestId}`);
    const p = r.patient || {};
    li.querySelector(".mt-contact")?.remove();
    const out = document.createElement("span"); out.className = "mt-contact";
    out.textContent = ` ${[patientName(p), p.phone ? `tél. ${p.phone}` : null, p.address].filter(Boolean).join(", ")} `;
    li.append(out);
  } catch (err) { say(err.message, false); }
}

// He confirms the first consultation himself (the coordinator may too): the médecin traitant is found.
function firstVisit(li, r) {
  const day = document.createElement("input"); day.type = "date"; day.setAttribute("aria-label", "Date de la première consultation");
  day.max = today(state.timeZone); day.value = day.max;
  li.append(" ", day, " ", button("Première consultation faite", async () => {
    try { await api("POST", `/v1/mt-requests/${r.id}/found`, { first_visit_on: day.value }); say("Médecin traitant trouvé : merci"); await reload(); }
    catch (err) { say(err.message, false); }
  }));
}
