// The record of the regulation on the open call: its observations in the order written, each signed and
// dated; a correction is a new observation naming the one it corrects, and both stay shown. The text
// typed is never lost on a refusal.
import { api } from "../api.js";
import { $, button, say, when } from "../dom.js";
import { ROLES } from "../i18n.js";
import { state } from "../state.js";

let correcting = null;  // the observation the form corrects, if any

export async function showRecord(call) {
  const list = $("#call-observations"); list.replaceChildren();
  setCorrecting(null);
  let observations = [];
  try { observations = await api("GET", `/v1/calls/${call.id}/observations`); }
  catch (err) { say(err.message, false); return; }
  const byId = new Map(observations.map((o) => [o.id, o]));
  for (const o of observations) {
    const li = document.createElement("li");
    li.dataset.observation = o.id;
    const who = `${o.author_name || o.author} (${ROLES[o.author_role] || o.author_role})`;
    const fixes = o.corrects && byId.get(o.corrects);
    li.textContent = `${when(o.at)} — ${who}${fixes ? ` — corrige l'observation de ${when(fixes.at)}` : ""} : ` +
      (o.text ?? "[texte effacé au terme de la conservation]");
    if (o.corrected_by.length) {
      li.className = "corrected";
      li.append(` (corrigée à ${o.corrected_by.map((id) => when(byId.get(id)?.at)).join(", ")})`);
    }
    if (o.text !== null) li.append(" ", button("Corriger", () => setCorrecting(o)));
    list.appendChild(li);
  }
  $("#call-observations-title").hidden = false;
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
    if (correcting) body.corrects = correcting.id;
    await api("POST", `/v1/calls/${state.call.id}/observations`, body);
    area.value = "";  // only once it is recorded
    say(correcting ? "Correction enregistrée" : "Observation enregistrée");
    await showRecord(state.call);
  } catch (err) { say(err.message, false); area.focus(); } finally { submit.disabled = false; }
});
