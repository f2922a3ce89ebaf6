// The open call: what the patient said, the decisions, the appointments read back in full, and the
// regulator's actions on it.
import { api } from "../api.js";
import { $, busy, button, confirmInPlace, guard, refuse, say, when } from "../dom.js";
import { CHANNELS, KINDS, MODES, REASONS, ROLES, STATUS, label, patientName, priorityLabel } from "../i18n.js";
import { state } from "../state.js";
import { watch } from "./live.js";
import { showMessages } from "./messages.js";
import { loadQueue } from "./queue.js";
import { showRecord } from "./record.js";
import { searchSlots } from "./slots.js";
import { showTab } from "./tabs.js";

// focus: the user opened it (a click, a shortcut): the reading starts at its heading.
export async function openCall(id, focus = false) {
  const before = document.activeElement;  // where the user was when he opened it
  try {
    const call = await api("GET", `/v1/calls/${id}`);
    state.call = call;
    $("#current-call").textContent = `${call.id.slice(0, 8)} — ${call.reason || "sans motif"}`;
    $("#call-detail").hidden = false; $("#call-id").textContent = call.id.slice(0, 8);
    $("#call-holder").hidden = true;
    $("#correct").hidden = true; $("#do-correct").setAttribute("aria-expanded", "false");
    const p = call.patient || {};
    const info = { "Reçu": when(call.received_at), "Canal": label(CHANNELS, call.channel), "Priorité": priorityLabel(call.priority, state.delays),
      "Patient": patientName(p) || "—", "Naissance": p.birth_year,
      "Téléphone": p.phone, "Code postal": p.postcode, "Motif": call.reason, "Statut": label(STATUS, call.status),
      "Premier rappel": when(call.first_callback_at), "Pris par": call.assigned_name || call.assigned_to,
      "Dossier SAMU": call.samu_case_id };
    if (call.reorientation) {
      info[call.status === "to_reorient" ? "À réorienter" : "Réorienté"] = `rendez-vous annulé le ${when(call.reorientation.at)} (${ROLES[call.reorientation.by_role] || ""})` +
        (call.reorientation.reason ? ` : ${call.reorientation.reason}` : "");
    }
    const dl = $("#call-info"); dl.replaceChildren();
    for (const [k, v] of Object.entries(info)) {
      const dt = document.createElement("dt"); dt.textContent = k; const dd = document.createElement("dd"); dd.textContent = v ?? "—";
      dl.append(dt, dd);
    }
    const active = new Set((call.bookings || []).filter((b) => b.status === "active").map((b) => b.id));
    const ul = $("#call-decisions"); ul.replaceChildren();
    for (const d of call.decisions || []) {
      const li = document.createElement("li");
      li.textContent = `${when(d.decided_at)} — ${label(KINDS, d.kind)}${d.other_reason ? ` (${label(REASONS, d.other_reason)})` : ""}` +
        `${d.pharmacy_name ? ` — ${d.pharmacy_name}` : ""}${d.prescribed ? ` : ${d.prescribed}` : ""}` +
        `${d.revoked_at ? " — annulée" : ""}`;
      if (d.revoked_at) li.className = "revoked";
      else if (!d.booking_id || !active.has(d.booking_id)) {
        const revoke = button("Annuler cette décision", async () => confirmInPlace(revoke,
          "Annuler cette décision ? Elle restera visible, barrée, et ne sera plus comptée.", "Confirmer l'annulation", async () => {
            try { await api("POST", `/v1/calls/${call.id}/decisions/${d.id}/revoke`, { reason: "erreur de saisie" }); say("Décision annulée"); await openCall(call.id); }
            catch (err) { say(err.message, false); return false; }
          }));
        li.append(" ", revoke);
      }
      ul.appendChild(li);
    }
    showMessages(call, await showAppointments(call));
    await showRecord(call);
    // To the heading, unless the user went elsewhere meanwhile (he pressed « Corriger » while the call's
    // appointments were read): his focus is never taken back from under his hand.
    if (focus && (document.activeElement === before || document.activeElement === document.body)) {
      $("#call-detail h2").focus();
    }
  } catch (err) { say(err.message, false); }
}

// The call on screen taken by someone else meanwhile: said at once, where the user is looking.
watch((name, data) => {
  const call = state.call, me = state.me?.sub;
  if (name !== "call.updated" || !call || data.call_id !== call.id || !me) return;
  if (call.assigned_to === me && data.assigned_to && data.assigned_to !== me) {
    const notice = $("#call-holder");
    notice.textContent = `Repris par ${data.assigned_name || data.assigned_to}`;
    notice.hidden = false;
  }
  call.assigned_to = data.assigned_to; call.assigned_name = data.assigned_name;
});

// The call's appointments, in full, to read back to the patient: local time, doctor, address, mode; returns
// each booking's start (the messages' table names the appointment by it).
async function showAppointments(call) {
  const starts = new Map();
  const list = $("#call-bookings"); list.replaceChildren();
  const bookings = [...(call.bookings || [])].sort((x, y) => (x.status === "active" ? -1 : 1) - (y.status === "active" ? -1 : 1));
  for (const b of bookings) {
    const li = document.createElement("li");
    try {
      const booking = await api("GET", `/v1/bookings/${b.id}`);
      starts.set(b.id, booking.slot.start);
      const [doctor, site] = await Promise.all([
        api("GET", `/v1/practitioners/${booking.slot.practitioner_id}`), api("GET", `/v1/sites/${booking.slot.site_id}`)]);
      const what = booking.kind === "over_capacity" ? " (en surnuméraire)" : "";
      li.textContent = `${when(booking.slot.start)} — Dr ${doctor.family_name} ${doctor.given_name} — ${site.name}, ` +
        `${site.address} ${site.postcode} — ${label(MODES, booking.slot.mode)}${what}` +
        (booking.status === "cancelled" ? ` — annulé${booking.cancel_reason ? ` (${booking.cancel_reason})` : ""}` : "");
      if (booking.status === "cancelled") li.className = "revoked";
      if (booking.status === "active" && !booking.outcome) {
        li.append(" ", button("Annuler le rendez-vous", () => askCancel(li, b.id, call.id)), " ", button("Changer de créneau", async () => {
          state.replacing = b.id; say("Choisissez le nouveau créneau : l'ancien sera annulé en même temps.");
          document.querySelector('nav button[data-tab="slots"]').click(); await searchSlots(true);
        }));
      }
    } catch (err) { li.textContent = err.message; }
    list.appendChild(li);
  }
  $("#call-bookings-title").hidden = bookings.length === 0;
  return starts;
}

// Cancelling asks its reason in place (no dialog): what is typed stays there if the cancel is refused.
function askCancel(li, bookingId, callId) {
  if (li.querySelector("form")) { li.querySelector("input").focus(); return; }
  const form = document.createElement("form"); form.className = "inline";
  const label = document.createElement("label"); label.textContent = "Motif de l'annulation (sans nom du patient) ";
  const input = document.createElement("input"); input.name = "reason"; input.maxLength = 500; label.appendChild(input);
  const submit = document.createElement("button"); submit.type = "submit"; submit.textContent = "Confirmer l'annulation";
  form.append(label, " ", submit, " ", button("Garder le rendez-vous", () => form.remove()));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(submit, async () => {
      try {
        await api("POST", `/v1/bookings/${bookingId}/cancel`, input.value ? { reason: input.value } : {});
        say("Rendez-vous annulé"); await openCall(callId);
      } catch (err) { say(err.message, false); input.focus(); }
    });
  });
  li.appendChild(form);
  input.focus();
}

async function decide(body) {
  if (!state.call) return;
  try { await api("POST", `/v1/calls/${state.call.id}/decisions`, body); say("Décision enregistrée"); await openCall(state.call.id); return true; }
  catch (err) { say(err.message, false); return false; }
}
guard('[data-decision="advice"]', () => decide({ kind: "advice" }));
guard('[data-decision="other"]', () => decide({ kind: "other", other_reason: $("#other-reason").value }));
// A prescription in place: the pharmacy the patient chose, its FINESS if known, what is prescribed.
guard("#do-prescription", async () => { $("#prescription").hidden = false; $("#prescription [name=pharmacy]").focus(); });
$("#prescription").addEventListener("submit", (e) => {
  e.preventDefault();
  const form = e.target, f = new FormData(form), submit = form.querySelector("button[type=submit]");
  const pharmacy = { name: f.get("pharmacy") };
  if (f.get("finess")) pharmacy.finess = f.get("finess");
  busy(submit, async () => {
    if (await decide({ kind: "prescription", pharmacy, prescribed: f.get("prescribed") || undefined })) {
      form.reset(); form.hidden = true;  // kept as typed when refused
    }
  });
});
$("#prescription .cancel").onclick = () => { $("#prescription").hidden = true; };
guard("#do-callback", async () => {
  try { await api("POST", `/v1/calls/${state.call.id}/callback`, {}); say("Rappel enregistré"); await openCall(state.call.id); }
  catch (err) { say(err.message, false); }
});
guard("#do-no-answer", async () => {
  try { await api("POST", `/v1/calls/${state.call.id}/callback`, { answered: false }); say("Rappel sans réponse enregistré"); await openCall(state.call.id); }
  catch (err) { say(err.message, false); }
});
guard("#do-close", async () => confirmInPlace($("#do-close"), "Clore cet appel ? Il quittera la file d'attente.", "Confirmer la clôture", async () => {
  try { await api("POST", `/v1/calls/${state.call.id}/close`); state.call = null; $("#call-detail").hidden = true; await loadQueue(true); say("Appel clos"); }
  catch (err) { say(err.message, false); return false; }
}));
// Correcting the call after its entry: the form shows what is recorded; only what the user changed is
// sent (each change is audited with its old and new values). Refusals are said beside their field, and
// what was typed stays.
const PATIENT_FIELDS = ["family_name", "given_name", "birth_year", "sex", "phone", "postcode", "address"];
function fillCorrection(call) {
  const form = $("#correct"), p = call.patient || {};
  for (const name of PATIENT_FIELDS) form.elements[name].value = p[name] ?? "";
  form.elements.reason.value = call.reason ?? "";
  form.elements.priority.value = call.priority || "P3";
  form.elements.samu_case_id.value = call.samu_case_id ?? "";
}
guard("#do-correct", async () => {
  if (!state.call) return;
  fillCorrection(state.call);
  $("#correct").hidden = false; $("#do-correct").setAttribute("aria-expanded", "true");
  $("#correct [name=family_name]").focus();
});
$("#correct .cancel").onclick = () => { $("#correct").hidden = true; $("#do-correct").setAttribute("aria-expanded", "false"); $("#do-correct").focus(); };
$("#correct").addEventListener("submit", (e) => {
  e.preventDefault();
  const form = e.target, call = state.call, submit = form.querySelector("button[type=submit]");
  if (!call) return;
  const was = call.patient || {}, patient = {}, body = {};
  const value = (name) => form.elements[name].value.trim();
  for (const name of PATIENT_FIELDS) {
    const now = value(name), before = was[name] == null ? "" : String(was[name]);
    if (now !== before) patient[name] = now === "" ? null : name === "birth_year" ? Number(now) : now;
  }
  if (Object.keys(patient).length) body.patient = patient;
  if (value("reason") !== (call.reason ?? "")) body.reason = value("reason") || null;
  if (value("priority") !== (call.priority || "P3")) body.priority = value("priority");
  if (value("samu_case_id") !== (call.samu_case_id ?? "")) body.samu_case_id = value("samu_case_id") || null;
  if (!Object.keys(body).length) { say("Rien n'a changé"); return; }
  busy(submit, async () => {
    try {
      await api("PATCH", `/v1/calls/${call.id}`, body);
      form.hidden = true; $("#do-correct").setAttribute("aria-expanded", "false");
      say("Appel corrigé"); await openCall(call.id); await loadQueue(true);
    } catch (err) { refuse(form, err); }
  });
});

$("#to-slots").onclick = () => { showTab("slots"); searchSlots(); };
