// The effector's own activity: his appointments (what he needs to see the patient), his slots, his
// weekly availabilities, his hours.
import { api } from "../api.js";
import { $, button, cell, item, onSubmit, say, when } from "../dom.js";
import { DAYS, MODES, SLOT_STATES, decimal, label } from "../i18n.js";
import { state } from "../state.js";
import { fromLocal } from "../time.js";
import { whenShown } from "./tabs.js";

export async function loadMine() {
  const me = state.me; if (!me || !me.practitioner_id) return;
  const in4weeks = new Date(Date.now() + 28 * 86400000).toISOString();
  try {
    const [slots, feed, sites, evidence, self] = await Promise.all([
      api("GET", `/v1/slots?from=${encodeURIComponent(new Date(Date.now() - 86400000).toISOString())}&to=${encodeURIComponent(in4weeks)}`),
      api("GET", "/v1/effectors/me/bookings?limit=1000"),
      api("GET", "/v1/sites?limit=200"),
      api("GET", `/v1/practitioners/${me.practitioner_id}/participation`),
      api("GET", `/v1/practitioners/${me.practitioner_id}`)]);
    // How his webhook fares (the relay backs a failing one off on its own), said by the server in French.
    const hook = $("#my-webhook"); const delivery = self.webhook_delivery;
    hook.hidden = !delivery; hook.textContent = delivery ? `Webhook : ${delivery.message}` : "";
    for (const select of [$("#my-site"), $("#rule-site")]) {
      select.replaceChildren();
      for (const site of sites) select.append(new Option(`${site.name}, ${site.postcode}`, site.id));
    }
    // The forms that need a place wait for the places: a submit before they load would fail silently.
    for (const form of [$("#publish"), $("#rule")]) form.querySelector("button[type=submit]").disabled = !sites.length;
    if (!sites.length) say("Aucun lieu d'exercice enregistré pour vous : demandez à la coordination d'en ajouter un.", false);
    await showRules();
    showSlots(slots);
    showAppointments(feed, slots);
    const weeks = $("#participation tbody"); weeks.replaceChildren();
    for (const w of evidence.weeks) {
      const tr = document.createElement("tr");
      cell(tr, w.week); cell(tr, w.slots_offered); cell(tr, `${decimal(w.hours_offered)} h`);
      cell(tr, w.reaches_forfait ? "atteint" : "non atteint"); cell(tr, w.orientations_received);
      weeks.appendChild(tr);
    }
  } catch (err) { say(err.message, false); }
}
whenShown("mine", loadMine);

async function showRules() {
  const rules = $("#my-rules"); rules.replaceChildren();
  for (const rule of await api("GET", "/v1/availability-rules")) {
    const li = item(`${rule.weekdays.map((d) => DAYS[d]).join(", ")} de ${rule.start_time.slice(0, 5)} à ${rule.end_time.slice(0, 5)}, ` +
      `créneaux de ${rule.slot_minutes} min, ${label(MODES, rule.mode)}, à partir du ${rule.valid_from} `);
    li.appendChild(button("Arrêter", async () => {
      if (!confirm("Arrêter cette disponibilité ? Ses créneaux libres à venir seront retirés.")) return;
      try { await api("DELETE", `/v1/availability-rules/${rule.id}`); say("Disponibilité arrêtée"); await loadMine(); }
      catch (err) { say(err.message, false); }
    }));
    rules.appendChild(li);
  }
}

function showSlots(slots) {
  const body = $("#my-slots tbody"); body.replaceChildren();
  for (const slot of slots) {
    const tr = document.createElement("tr");
    cell(tr, when(slot.start)); cell(tr, label(MODES, slot.mode)); cell(tr, label(SLOT_STATES, slot.state));
    const actions = cell(tr, "");
    if (slot.state === "free") actions.appendChild(button("Retirer", async () => {
      try { await api("DELETE", `/v1/slots/${slot.id}`); say("Créneau retiré"); await loadMine(); } catch (err) { say(err.message, false); }
    }));
    body.appendChild(tr);
  }
}

// The feed's latest event of each booking; once the slot has begun he says whether the patient came.
function showAppointments(feed, slots) {
  const starts = new Map(slots.map((x) => [x.id, x.start]));
  const latest = new Map();
  for (const e of feed.events) latest.set(e.payload.booking_id, e);
  const list = $("#my-bookings"); list.replaceChildren();
  for (const e of [...latest.values()].reverse()) {
    const p = e.payload; const who = p.patient || {};
    const person = [who.family_name, who.given_name].filter(Boolean).join(" ") || who.initials || "patient";
    const li = item(`${when(p.start)} — ${label(MODES, p.mode)} — ${person}${who.age != null ? `, ${who.age} ans` : ""}` +
      `${who.phone ? ` — ${who.phone}` : ""}${who.address ? ` — ${who.address}` : ""}` +
      (e.kind === "booking.cancelled" ? " — annulé" : ""));
    const start = new Date(starts.get(p.slot_id) || p.start);
    if (e.kind === "booking.created" && start <= new Date()) {
      for (const [text, status] of [["Honoré", "fulfilled"], ["Non honoré", "noshow"]]) {
        li.append(" ", button(text, async () => {
          try { await api("POST", `/v1/bookings/${p.booking_id}/outcome`, { status }); say("Retour enregistré"); }
          catch (err) { say(err.message, false); }
        }));
      }
    }
    list.appendChild(li);
  }
}

onSubmit("#rule", async (f) => {
  const body = { site_id: f.get("site_id"), mode: f.get("mode"), weekdays: f.getAll("weekdays").map(Number),
    start_time: f.get("start_time"), end_time: f.get("end_time"), slot_minutes: Number(f.get("slot_minutes")),
    valid_from: f.get("valid_from") };
  if (f.get("valid_until")) body.valid_until = f.get("valid_until");
  if (!body.weekdays.length) { say("Cochez au moins un jour", false); return; }
  try {
    const rule = await api("POST", "/v1/availability-rules", body);
    say(`Disponibilité enregistrée : ${rule.slots_created} créneau(x) publié(s)`); await loadMine();
  } catch (err) { say(err.message, false); }
}, () => !$("#rule-site").options.length);

onSubmit("#publish", async (f) => {
  const start = fromLocal(f.get("start"), state.timeZone);
  try {
    await api("POST", "/v1/slots", { site_id: f.get("site_id"), start: start.toISOString(), mode: f.get("mode"),
      end: new Date(start.getTime() + Number(f.get("minutes")) * 60000).toISOString() });
    say("Créneau publié"); await loadMine();
  } catch (err) { say(err.message, false); }
}, () => !$("#my-site").options.length);
