"use strict";
// Console of the SAS ambulatoire: every action is a call to the public API with the user's token.
const $ = (sel) => document.querySelector(sel);
const state = { token: sessionStorage.getItem("snp.token") || "", territory: sessionStorage.getItem("snp.territory") || "36", call: null };
const fmt = new Intl.DateTimeFormat("fr-FR", { dateStyle: "short", timeStyle: "short" });
const MODES = { in_person: "Au cabinet", home_visit: "Visite à domicile", teleconsultation: "Téléconsultation" };
const KINDS = { advice: "Conseil médical", slot: "Orientation vers un créneau", prescription: "Prescription", other: "Autre situation" };
const STATUS = { waiting: "En attente", in_progress: "En cours", closed: "Clos" };

function say(text, ok = true) { const m = $("#message"); m.textContent = text; m.className = ok ? "ok" : "error"; }
function when(iso) { return iso ? fmt.format(new Date(iso)) : "—"; }
function cell(row, text) { const td = document.createElement("td"); td.textContent = text ?? "—"; row.appendChild(td); return td; }
function button(label, onclick) { const b = document.createElement("button"); b.type = "button"; b.textContent = label; b.onclick = onclick; return b; }

async function api(method, path, body, headers = {}) {
  const init = { method, headers: { Authorization: `Bearer ${state.token}`, ...headers } };
  if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
  const response = await fetch(path, init);
  const text = await response.text();
  const data = text && response.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text;
  if (!response.ok) {
    const detail = (data && data.detail) || response.statusText;
    throw new Error(response.status === 409 ? `Conflit : ${detail}` : `Erreur ${response.status} : ${detail}`);
  }
  return data;
}

function claims(token) {
  try { return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))); } catch { return null; }
}

$("#session").addEventListener("submit", (e) => {
  e.preventDefault();
  state.token = $("#token").value.trim();
  state.territory = $("#territory").value.trim();
  sessionStorage.setItem("snp.token", state.token);
  sessionStorage.setItem("snp.territory", state.territory);
  const c = claims(state.token);
  $("#whoami").textContent = c ? `${c.role} — ${(c.territories || []).join(", ")}` : "jeton illisible";
  loadQueue();
});

document.querySelectorAll("nav button").forEach((b) => b.addEventListener("click", () => {
  document.querySelectorAll("nav button").forEach((x) => x.classList.toggle("active", x === b));
  document.querySelectorAll("main > section").forEach((s) => { s.hidden = s.id !== `tab-${b.dataset.tab}`; });
}));

function patientOf(call) { return call.patient || {}; }

async function loadQueue() {
  try {
    const calls = await api("GET", `/v1/calls?territory=${encodeURIComponent(state.territory)}&status=waiting`);
    const rows = Array.isArray(calls) ? calls : calls.items || [];
    const body = $("#queue tbody"); body.replaceChildren();
    for (const call of rows) {
      const tr = document.createElement("tr"); if (call.late) tr.className = "late";
      cell(tr, when(call.received_at)); cell(tr, call.priority); cell(tr, when(call.due_at));
      cell(tr, call.channel); cell(tr, call.late ? `${call.minutes_late} min` : "à l'heure");
      cell(tr, STATUS[call.status] || call.status);
      cell(tr, "").appendChild(button("Ouvrir", () => openCall(call.id)));
      body.appendChild(tr);
    }
    say(`${rows.length} appel(s) en attente`);
  } catch (err) { say(err.message, false); }
}
$("#refresh-queue").onclick = loadQueue;

$("#new-call").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const patient = {};
  for (const k of ["family_name", "given_name", "sex", "phone", "postcode"]) if (f.get(k)) patient[k] = f.get(k);
  if (f.get("birth_year")) patient.birth_year = Number(f.get("birth_year"));
  try {
    const call = await api("POST", "/v1/calls", {
      territory_code: state.territory, channel: f.get("channel"), patient, reason: f.get("reason") || undefined,
      priority: f.get("priority"), intent_without_sas: f.get("intent_without_sas"),
    });
    e.target.reset(); say("Appel enregistré"); await loadQueue(); await openCall(call.id);
  } catch (err) { say(err.message, false); }
});

async function openCall(id) {
  try {
    const call = await api("GET", `/v1/calls/${id}`);
    state.call = call;
    $("#current-call").textContent = `${call.id.slice(0, 8)} — ${call.reason || "sans motif"}`;
    $("#call-detail").hidden = false; $("#call-id").textContent = call.id.slice(0, 8);
    const p = patientOf(call);
    const info = { "Reçu": when(call.received_at), "Canal": call.channel, "Priorité": call.priority,
      "Patient": [p.family_name, p.given_name].filter(Boolean).join(" ") || "—", "Naissance": p.birth_year,
      "Téléphone": p.phone, "Code postal": p.postcode, "Motif": call.reason, "Statut": STATUS[call.status] || call.status,
      "Premier rappel": when(call.first_callback_at) };
    const dl = $("#call-info"); dl.replaceChildren();
    for (const [k, v] of Object.entries(info)) {
      const dt = document.createElement("dt"); dt.textContent = k; const dd = document.createElement("dd"); dd.textContent = v ?? "—";
      dl.append(dt, dd);
    }
    const ul = $("#call-decisions"); ul.replaceChildren();
    for (const d of call.decisions || []) {
      const li = document.createElement("li");
      li.textContent = `${KINDS[d.kind] || d.kind}${d.other_reason ? ` (${d.other_reason})` : ""}${d.pharmacy_name ? ` — ${d.pharmacy_name}` : ""}`;
      ul.appendChild(li);
    }
  } catch (err) { say(err.message, false); }
}

async function decide(body) {
  if (!state.call) return;
  try { await api("POST", `/v1/calls/${state.call.id}/decisions`, body); say("Décision enregistrée"); await openCall(state.call.id); }
  catch (err) { say(err.message, false); }
}
document.querySelector('[data-decision="advice"]').onclick = () => decide({ kind: "advice" });
document.querySelector('[data-decision="other"]').onclick = () => decide({ kind: "other", other_reason: $("#other-reason").value });
$("#do-prescription").onclick = () => {
  const name = prompt("Pharmacie choisie par le patient :"); if (name) decide({ kind: "prescription", pharmacy: { name } });
};
$("#do-callback").onclick = async () => {
  try { await api("POST", `/v1/calls/${state.call.id}/callback`, {}); say("Rappel enregistré"); await openCall(state.call.id); }
  catch (err) { say(err.message, false); }
};
$("#do-close").onclick = async () => {
  try { await api("POST", `/v1/calls/${state.call.id}/close`); say("Appel clos"); state.call = null; $("#call-detail").hidden = true; await loadQueue(); }
  catch (err) { say(err.message, false); }
};
$("#to-slots").onclick = () => document.querySelector('nav button[data-tab="slots"]').click();

$("#search").addEventListener("submit", (e) => { e.preventDefault(); searchSlots(); });

async function searchSlots(quiet = false) {
  const f = new FormData($("#search"));
  const q = new URLSearchParams({ territory: state.territory, limit: "50" });
  for (const k of ["mode", "near_lat", "near_lon", "radius_km"]) if (f.get(k)) q.set(k, f.get(k));
  for (const k of ["start_from", "start_to"]) if (f.get(k)) q.set(k, new Date(f.get(k)).toISOString());
  try {
    const found = await api("GET", `/v1/slots/search?${q}`);
    const rows = Array.isArray(found) ? found : found.items || [];
    const body = $("#slots tbody"); body.replaceChildren();
    for (const s of rows) {
      const tr = document.createElement("tr");
      const doctor = s.practitioner ? `Dr ${s.practitioner.family_name} ${s.practitioner.given_name || ""}` : "";
      const site = s.site ? `${s.site.name}, ${s.site.address || ""} ${s.site.postcode || ""}` : "";
      cell(tr, when(s.start)); cell(tr, when(s.end)); cell(tr, doctor); cell(tr, site); cell(tr, MODES[s.mode] || s.mode);
      cell(tr, s.distance_km != null ? `${Number(s.distance_km).toFixed(1)} km` : "—");
      cell(tr, "").appendChild(button("Réserver", () => book(s)));
      body.appendChild(tr);
    }
    if (!quiet) say(`${rows.length} créneau(x) libre(s)`);
  } catch (err) { say(err.message, false); }
}

async function book(slot) {
  if (!state.call) { say("Ouvrez d'abord l'appel du patient (onglet Appels)", false); return; }
  try {
    await api("POST", `/v1/slots/${slot.id}/hold`, { call_id: state.call.id });
    if (!confirm(`Réserver le créneau du ${when(slot.start)} pour ce patient ?`)) {
      await api("DELETE", `/v1/slots/${slot.id}/hold?call_id=${state.call.id}`); say("Créneau relâché"); return;
    }
    await api("POST", "/v1/bookings", { slot_id: slot.id, call_id: state.call.id }, { "Idempotency-Key": crypto.randomUUID() });
    await searchSlots(true); await openCall(state.call.id);
    say("Créneau réservé, le médecin effecteur est prévenu");
  } catch (err) { say(err.message, false); }
}

$("#stats").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const q = new URLSearchParams({ territory: state.territory, from: f.get("from"), to: f.get("to") });
  try {
    const report = await api("GET", `/v1/stats/monthly?${q}`);
    const body = $("#stats-table tbody"); body.replaceChildren();
    const pct = (d) => (d ? `${d.count} (${Math.round(d.share * 100)} %)` : "—");
    for (const m of [...report.months, { ...report.total, month: "Total" }]) {
      const tr = document.createElement("tr");
      cell(tr, m.month); cell(tr, m.calls); cell(tr, pct(m.decisions.advice)); cell(tr, pct(m.decisions.slot));
      cell(tr, pct(m.decisions.prescription)); cell(tr, pct(m.decisions.other)); cell(tr, m.avoided_ed_visits?.count);
      body.appendChild(tr);
    }
    const a = report.total.avoided_ed_visits || {};
    $("#stats-method").textContent = `Moyenne mensuelle : ${report.total.monthly_average_calls} appels. Passages aux urgences évités estimés par la méthode « ${a.method} ».`;
  } catch (err) { say(err.message, false); }
});
$("#stats-csv").onclick = async (e) => {
  e.preventDefault();
  const f = new FormData($("#stats"));
  const q = new URLSearchParams({ territory: state.territory, from: f.get("from"), to: f.get("to"), format: "csv" });
  const response = await fetch(`/v1/stats/monthly?${q}`, { headers: { Authorization: `Bearer ${state.token}` } });
  if (!response.ok) { say(`Erreur ${response.status}`, false); return; }
  const url = URL.createObjectURL(await response.blob());
  const a = document.createElement("a"); a.href = url; a.download = `snp-${state.territory}-${f.get("from")}-${f.get("to")}.csv`; a.click();
};

if (state.token) { $("#token").value = state.token; $("#territory").value = state.territory; $("#session").requestSubmit(); }
