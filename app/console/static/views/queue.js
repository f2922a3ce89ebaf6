// The regulation's queue (operators, regulators): the open calls, live; a new call; a call of the day
// found again by the patient's name or phone.
import { api } from "../api.js";
import { $, button, cell, guard, item, onSubmit, say, when } from "../dom.js";
import { CHANNELS, STATUS, label, lateness, patientName } from "../i18n.js";
import { newest, state } from "../state.js";
import { openCall } from "./call.js";
import { follow } from "./live.js";

// quiet: a live update does not cover the message of what the user just did. Whether the queue could
// be read (an answer overtaken by a newer request counts as read: the newer one tells).
export async function loadQueue(quiet = false) {
  const current = newest("queue");
  try {
    const calls = await api("GET", `/v1/calls?territory=${encodeURIComponent(state.territory)}&open=true`);
    if (!current()) return true;
    state.calls = Array.isArray(calls) ? calls : calls.items || [];
    renderQueue();
    if (quiet !== true) say(`${state.calls.length} appel(s) ouvert(s)`);
    return true;
  } catch (err) { if (quiet !== true) say(err.message, false); return false; }
}
follow(loadQueue);

function renderQueue() {
  const body = $("#queue tbody"); body.replaceChildren();
  for (const call of state.calls) {
    const tr = document.createElement("tr");
    tr.dataset.call = call.id;
    if (call.late) tr.className = "late";
    if (call.status === "to_reorient") tr.className = "reorient";
    cell(tr, when(call.received_at)); cell(tr, call.priority || "P3"); cell(tr, lateness(call));
    cell(tr, label(CHANNELS, call.channel));
    cell(tr, label(STATUS, call.status));
    cell(tr, call.assigned_to || "—").className = "taker";
    const actions = cell(tr, "");
    actions.appendChild(button("Ouvrir", () => openCall(call.id)));
    if (call.assigned_to !== state.me?.sub) {
      actions.appendChild(button("Prendre l'appel", async () => {
        try { await api("POST", `/v1/calls/${call.id}/assign`, { assigned_to: state.me.sub }); say("Appel pris"); await loadQueue(); }
        catch (err) { say(err.message, false); }
      }));
    }
    body.appendChild(tr);
  }
}
// The lateness column ticks without asking the server again.
setInterval(() => { if (state.calls.length) renderQueue(); }, 30000);

guard("#refresh-queue", loadQueue);

$("#find").addEventListener("submit", async (e) => {
  e.preventDefault();
  const list = $("#found"); list.replaceChildren();
  try {
    const calls = await api("POST", "/v1/calls/find", { q: new FormData(e.target).get("q") });
    for (const call of calls) {
      const p = call.patient || {};
      const li = item(`${when(call.received_at)} — ${patientName(p)} ${p.phone || ""} — ${label(STATUS, call.status)} `);
      li.appendChild(button("Ouvrir", () => openCall(call.id)));
      list.appendChild(li);
    }
    say(calls.length ? `${calls.length} appel(s) trouvé(s)` : "Aucun appel du jour ne correspond");
  } catch (err) { say(err.message, false); }
});

onSubmit("#new-call", async (f, form) => {
  const patient = {};
  for (const k of ["family_name", "given_name", "sex", "phone", "postcode"]) if (f.get(k)) patient[k] = f.get(k);
  if (f.get("birth_year")) patient.birth_year = Number(f.get("birth_year"));
  try {
    const call = await api("POST", "/v1/calls", {
      territory_code: state.territory, channel: f.get("channel"), patient, reason: f.get("reason") || undefined,
      priority: f.get("priority"), intent_without_sas: f.get("intent_without_sas"),
    });
    form.reset(); say("Appel enregistré"); await loadQueue(); await openCall(call.id);
  } catch (err) { say(err.message, false); }
});
