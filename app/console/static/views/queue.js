// The regulation's queue (operators, regulators): the open calls, live; a new call; a call of the day
// found again by the patient's name or phone.
import { api } from "../api.js";
import { $, busy, button, cell, guard, item, onSubmit, refuse, say, when } from "../dom.js";
import { CHANNELS, STATUS, label, lateness, patientName, priorityLabel, queueOrder, triageText } from "../i18n.js";
import { newest, state } from "../state.js";
import { openCall } from "./call.js";
import { follow } from "./live.js";

// quiet: a live update does not cover the message of what the user just did. Whether the queue could
// be read (an answer overtaken by a newer request counts as read: the newer one tells).
export async function loadQueue(quiet = false) {
  const current = newest("queue");
  try {
    const calls = await api("GET", `/v1/calls?territory=${encodeURIComponent(state.territory)}&open=true&triage=true`);
    if (!current()) return true;
    state.calls = (Array.isArray(calls) ? calls : calls.items || []).sort(queueOrder);
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
    cell(tr, when(call.received_at));
    const priority = cell(tr, priorityLabel(call.priority, state.delays));
    priority.className = `priority ${(call.priority || "P3").toLowerCase()}`;
    const late = cell(tr, lateness(call));
    if (call.late) late.className = "overdue";
    const [who, what] = triageText(call.triage);
    cell(tr, who).className = "who";
    cell(tr, what).className = "what";
    cell(tr, label(CHANNELS, call.channel) + (call.samu_case_id ? ` — SAMU ${call.samu_case_id}` : ""));
    cell(tr, label(STATUS, call.status));
    cell(tr, call.assigned_name || call.assigned_to || "—").className = "taker";
    const actions = cell(tr, "");
    actions.appendChild(button("Ouvrir", () => openCall(call.id, true)));
    if (call.assigned_to !== state.me?.sub) {
      const holder = call.assigned_to ? call.assigned_name || call.assigned_to : null;
      actions.appendChild(button(holder ? "Reprendre l'appel" : "Prendre l'appel", () => take(call, actions, holder)));
    }
    body.appendChild(tr);
  }
}

// The next call to take: the first of the queue's order that no one else has.
export function nextCall() {
  return state.calls.find((call) => !call.assigned_to || call.assigned_to === state.me?.sub) || null;
}

// Taking a call someone has is confirmed first, naming him; the server refuses a silent take-over
// too (409 CallHeld), when he took it a moment ago. From the keyboard: the call's row's actions.
export async function take(call, actions = rowActions(call.id), holder = holderOf(call)) {
  if (holder && holder !== state.me?.sub && actions) { confirmTakeOver(call, actions, holder); return; }
  try {
    await api("POST", `/v1/calls/${call.id}/assign`, { assigned_to: state.me.sub }); await loadQueue(true); say("Appel pris");
    if (state.call?.id === call.id) $("#call-detail h2").focus();
  }
  catch (err) {
    if (err.kind === "CallHeld") confirmTakeOver(call, actions, err.body.holder_name || err.body.holder);
    else say(err.message, false);
  }
}

function rowActions(id) { return document.querySelector(`#queue tr[data-call="${id}"] td:last-child`); }
function holderOf(call) {
  const line = state.calls.find((c) => c.id === call.id) || call;
  return line.assigned_to && line.assigned_to !== state.me?.sub ? line.assigned_name || line.assigned_to : null;
}

function confirmTakeOver(call, actions, holder) {
  actions.querySelector(".confirm-take")?.remove();
  const box = document.createElement("span"); box.className = "confirm-take"; box.setAttribute("role", "group");
  box.textContent = `Pris par ${holder}. Le reprendre ?`;
  const yes = button("Confirmer la reprise", async () => {
    try {
      await api("POST", `/v1/calls/${call.id}/assign`, { assigned_to: state.me.sub, take_over: true });
      await loadQueue(true); say(`Appel repris à ${holder}`);
    } catch (err) { say(err.message, false); }
  });
  box.append(" ", yes, " ", button("Annuler", () => box.remove()));
  actions.appendChild(box);
  yes.focus();
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
  for (const k of ["family_name", "given_name", "sex", "phone", "postcode", "email"]) if (f.get(k)) patient[k] = f.get(k);
  if (f.get("birth_year")) patient.birth_year = Number(f.get("birth_year"));
  // The patient is told of his appointment only when he (or a parent) agreed: no consent, no message.
  const consent = f.get("notify_consent") || undefined;
  const body = {
    territory_code: state.territory, channel: f.get("channel"), patient, reason: f.get("reason") || undefined,
    priority: f.get("priority"), intent_without_sas: f.get("intent_without_sas"),
    samu_case_id: f.get("samu_case_id") || undefined,
    notify: consent ? f.get("notify") : "none", notify_consent: consent,
    gp_report: f.get("gp_report") || undefined,
  };
  // The médecin traitant: his RPPS (a practitioner we know), or his name and MSSanté address.
  const gp = {};
  for (const k of ["rpps", "family_name", "mssante_address"]) if (f.get(`general_practitioner_${k}`)) gp[k] = f.get(`general_practitioner_${k}`);
  if (gp.rpps || gp.mssante_address) body.general_practitioner = gp;
  $("#out-of-territory").hidden = true;
  // "Le patient n'a pas de médecin traitant": once the call is saved, the patient enters the CPTS's waiting list.
  const noMt = f.get("no_mt") === "on" ? { publics: f.getAll("mt_publics") } : null;
  await enterCall(body, form, noMt);
});
$("#new-call [name=no_mt]").addEventListener("change", (e) => { $("#no-mt-publics").hidden = !e.target.checked; });

async function enterCall(body, form, noMt) {
  try {
    const call = await api("POST", "/v1/calls", body);
    form.reset(); $("#out-of-territory").hidden = true; $("#no-mt-publics").hidden = true;
    const listed = noMt ? await withoutMt(call, noMt.publics) : null;
    say("Appel enregistré"); await loadQueue(); await openCall(call.id);
    if (listed) say(...listed);  // said last: the queue's count does not cover it
  } catch (err) {
    const postcode = body.patient.postcode;
    if (err.body?.field === "patient.postcode" && /out_of_territory/.test(err.body.detail || "")) {
      // A postcode of elsewhere: said on purpose, or a typing slip? The operator says which.
      const ask = $("#out-of-territory");
      ask.querySelector("span").textContent = `Le code postal ${postcode} n'est pas du territoire : patient hors territoire ?`;
      ask.hidden = false;
      ask.querySelector("button.yes").onclick = () => busy(ask.querySelector("button.yes"),
        () => enterCall({ ...body, out_of_territory: true }, form, noMt));
      ask.querySelector("button.no").onclick = () => { ask.hidden = true; form.querySelector("[name=postcode]").focus(); };
      ask.querySelector("button.yes").focus();
      return;
    }
    refuse(form, err);
  }
}

// The call's patient on the waiting list of patients without a médecin traitant (source regulation: the server
// copies the patient from the call). Said in one message with the call's own.
async function withoutMt(call, publics) {
  try {
    await api("POST", "/v1/mt-requests", { territory_code: call.territory_code || state.territory, source: "regulation",
      call_id: call.id, publics });
    return ["Appel enregistré ; patient inscrit sur la liste des patients sans médecin traitant", true];
  } catch (err) {
    return [`Appel enregistré, mais pas l'inscription sans médecin traitant : ${err.message}`, false];
  }
}
