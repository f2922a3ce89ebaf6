// The record of the regulation on the open call, as one timeline: received, taken (by whom), callbacks,
// observations, decisions (revoked ones struck through), appointments, re-orientation, corrections,
// closing. An observation is never changed: a correction is a new one naming it, and both stay shown.
// The text typed is never lost on a refusal.
import { api } from "../api.js";
import { $, button, refuse, say, when } from "../dom.js";
import { ROLES, timelineText } from "../i18n.js";
import { state } from "../state.js";

let correcting = null;  // the observation the form corrects, if any

export async function showRecord(call) {
  const list = $("#call-timeline");
  setCorrecting(null);
  let entries = [];
  try { entries = await api("GET", `/v1/calls/${call.id}/timeline`); }
  catch (err) { say(err.message, false); return; }
  list.replaceChildren();
  const observed = new Map(entries.filter((e) => e.kind === "observation").map((e) => [e.detail.id, e]));
  for (const e of entries) {
    const li = document.createElement("li");
    li.dataset.kind = e.kind;
    const who = e.by ? ` — ${e.by_name || e.by}${e.by_role ? ` (${ROLES[e.by_role] || e.by_role})` : ""}` : "";
    const fixes = e.kind === "observation" && e.detail.corrects && observed.get(e.detail.corrects);
    li.textContent = `${when(e.at)}${who}${fixes ? ` — corrige l'observation de ${when(fixes.at)}` : ""} : ` +
      timelineText(e, when);
    if (e.struck) li.className = "struck";
    if (e.kind === "observation") {
      li.dataset.observation = e.detail.id;
      if (e.struck) li.append(" (corrigée)");
      if (e.detail.text !== null) li.append(" ", button("Corriger", () => setCorrecting(e)));
    }
    list.appendChild(li);
  }
}

function setCorrecting(observation) {
  correcting = observation;
  const note = $("#observe-corrects");
  note.hidden = !observation;
  note.querySelector("span").textContent = observation ? `Correction de l'observation de ${when(observation.at)}` : "";
  if (observation) $("#observe textarea").focus();
}
$("#observe-corrects button").onclick = () => setCorrecting(null);

$("#observe").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = e.target, submit = form.querySelector("button[type=submit]"), area = form.querySelector("textarea");
  if (!state.call || submit.disabled) return;
  submit.disabled = true;
  try {
    const body = { text: area.value };
    if (correcting) body.corrects = correcting.detail.id;
    await api("POST", `/v1/calls/${state.call.id}/observations`, body);
    area.value = "";  // only once it is recorded
    say(correcting ? "Correction enregistrée" : "Observation enregistrée");
    await showRecord(state.call);
  } catch (err) { refuse(form, err); area.focus(); } finally { submit.disabled = false; }
});
