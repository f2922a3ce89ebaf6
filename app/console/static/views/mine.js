// The effector's own activity: his settings (over-capacity consent, phone, own sites), his appointments
// (what he needs to see the patient, and what he said of them), his slots, his weekly availabilities, his
// hours; his offer to take new patients as médecin traitant and the patients proposed to him (newpatients.js).
import { api } from "../api.js";
import { $, button, cell, confirmInPlace, item, onSubmit, refuse, say, when } from "../dom.js";
import { DAYS, MODES, OUTCOMES, SLOT_STATES, decimal, label, patientName } from "../i18n.js";
import { REPORT_STATES } from "../notices.js";
import { state } from "../state.js";
import { fromLocal } from "../time.js";
import { showNewPatients } from "./newpatients.js";
import { whenShown } from "./tabs.js";

export async function loadMine() {
  const me = state.me; if (!me || !me.practitioner_id) return;
  const in4weeks = new Date(Date.now() + 28 * 86400000).toISOString();
  try {
    const [slots, feed, bookings, sites, evidence, self] = await Promise.all([
      api("GET", `/v1/slots?from=${encodeURIComponent(new Date(Date.now() - 86400000).toISOString())}&to=${encodeURIComponent(in4weeks)}`),
      api("GET", "/v1/effectors/me/bookings?limit=1000"),
      api("GET", "/v1/bookings?limit=200"),
      api("GET", "/v1/sites?limit=200"),
      api("GET", `/v1/practitioners/${me.practitioner_id}/participation`),
      api("GET", `/v1/practitioners/${me.practitioner_id}`)]);
    showSettings(self, sites);
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
    showAppointments(bookings, feed, sites);
    const weeks = $("#participation tbody"); weeks.replaceChildren();
    for (const w of evidence.weeks) {
      const tr = document.createElement("tr");
      cell(tr, w.week); cell(tr, w.slots_offered); cell(tr, `${decimal(w.hours_offered)} h`);
      cell(tr, w.reaches_forfait ? "atteint" : "non atteint"); cell(tr, w.orientations_received);
      weeks.appendChild(tr);
    }
    await showNewPatients(self, sites);
  } catch (err) { say(err.message, false); }
}
whenShown("mine", loadMine);

async function showRules() {
  const rules = $("#my-rules"); rules.replaceChildren();
  for (const rule of await api("GET", "/v1/availability-rules")) {
    const li = item(`${rule.weekdays.map((d) => DAYS[d]).join(", ")} de ${rule.start_time.slice(0, 5)} à ${rule.end_time.slice(0, 5)}, ` +
      `créneaux de ${rule.slot_minutes} min, ${label(MODES, rule.mode)}, à partir du ${rule.valid_from} `);
    const stop = button("Arrêter", async () => confirmInPlace(stop,
      "Arrêter cette disponibilité ? Ses créneaux libres à venir seront retirés.", "Confirmer l'arrêt", async () => {
        try { await api("DELETE", `/v1/availability-rules/${rule.id}`); say("Disponibilité arrêtée"); await loadMine(); }
        catch (err) { say(err.message, false); return false; }
      }));
    li.appendChild(stop);
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

// His settings, in his view: whether the regulation may ask him for over-capacity appointments, the
// phone it calls him on, and his own sites (the only ones where it may record them).
function showSettings(self, sites) {
  const form = $("#my-settings");
  form.elements.accepts_over_capacity.checked = !!self.accepts_over_capacity;
  form.elements.phone.value = self.phone || "";
  const own = new Set(self.site_ids || []);
  const list = $("#my-site-ids"); list.replaceChildren();
  for (const site of sites) {
    const box = document.createElement("input"); box.type = "checkbox"; box.name = "site_ids"; box.value = site.id;
    box.checked = own.has(site.id);
    const line = document.createElement("label"); line.append(box, ` ${site.name}, ${site.address} ${site.postcode}`);
    list.appendChild(line);
  }
  if (!sites.length) list.appendChild(item("Aucun lieu dans vos territoires."));
  settingsError("");
}

// A refusal stays beside the form, on the field it names, until the next try.
function settingsError(text, field) {
  const out = $("#my-settings-error"); out.textContent = text; out.hidden = !text;
  const form = $("#my-settings");
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  if (!field) return;
  const target = field.startsWith("site_ids") ? form.querySelector("[name=site_ids]") : form.elements[field];
  if (target && target.focus) { target.setAttribute("aria-invalid", "true"); target.focus(); }
}

const SETTINGS_FIELDS = { phone: "Téléphone : 6 à 19 chiffres, éventuellement après un +.",
  site_ids: "Lieux : un lieu hors de vos territoires ou inconnu ne peut pas être le vôtre." };

onSubmit("#my-settings", async (f) => {
  const body = { accepts_over_capacity: f.get("accepts_over_capacity") === "on", phone: f.get("phone").trim() || null,
    site_ids: f.getAll("site_ids") };
  try {
    const self = await api("PATCH", "/v1/practitioners/me", body);
    settingsError(""); say("Réglages enregistrés");
    $("#my-settings").elements.phone.value = self.phone || "";
  } catch (err) {
    const field = err.body && err.body.field;
    settingsError(SETTINGS_FIELDS[(field || "").split(".")[0]] || err.message, field);
  }
});

// Of the patient, what the mode needs: the name, age, address and phone for a home visit, the phone for a
// teleconsultation, the initials and age otherwise (the feed carries no more than that).
export function patientLine(mode, who = {}) {
  const age = who.age != null ? `${who.age} ans` : "";
  const name = mode === "home_visit" ? patientName(who) : "";
  const parts = [name || who.initials || "patient", age];
  if (mode === "home_visit" && who.address) parts.push(who.address);
  if ((mode === "home_visit" || mode === "teleconsultation") && who.phone) parts.push(`tél. ${who.phone}`);
  return parts.filter(Boolean).join(", ");
}

const REPORT_SAID = {
  pending: " ; le compte rendu part au médecin traitant par messagerie sécurisée",
  withheld: " ; compte rendu non envoyé (patient opposé ou non informé, ou pas de médecin traitant joignable)",
};

// How the visit's report to the médecin traitant fares (a single booking's read carries it), for the visits of
// the last days only: one read each. A failure stands out (he may send it himself).
const REPORT_DAYS = 7;
async function showReport(li, bookingId) {
  try {
    const { report } = await api("GET", `/v1/bookings/${bookingId}`);
    if (!report || !li.isConnected) return;
    const said = document.createElement("span");
    said.className = report.state === "failed" ? "error" : "";
    said.textContent = `compte rendu au médecin traitant : ${REPORT_STATES[report.state] || report.state}` +
      (report.state === "failed" && report.last_error ? ` (${report.last_error})` : "");
    li.append(" — ", said);
  } catch { /* said at the next reading */ }
}

// The visit's report to the patient's médecin traitant, sent with "Honoré" when written: the report and the
// identity traits the doctor files it by (asked only here).
function reportForm(bookingId) {
  const el = (tag, props = {}, ...children) => {
    const node = Object.assign(document.createElement(tag), props); node.append(...children); return node;
  };
  const field = (text, control) => el("label", {}, `${text} `, control);
  const sex = el("select", { name: "sex" }, ...[["F", "F"], ["M", "M"], ["U", "Inconnu"]]
    .map(([value, text]) => el("option", { value, textContent: text })));
  const form = el("form", { className: "report", id: `report-${bookingId}` },
    field("Compte rendu", el("textarea", { name: "text", rows: 3, maxLength: 4000 })),
    field("Nom de naissance", el("input", { name: "birth_name", maxLength: 100 })),
    field("Prénom", el("input", { name: "given_name", maxLength: 100 })),
    field("Date de naissance", el("input", { name: "birth_date", type: "date" })),
    field("Sexe", sex));
  return el("details", {}, el("summary", { textContent: "Compte rendu au médecin traitant (facultatif)" }), form);
}

// His appointments, soonest first: each booking of his slots with what he said of it, and of the patient
// what the booking's latest event carries; once the slot has begun he says whether the patient came.
function showAppointments(bookings, feed, sites) {
  const latest = new Map();
  for (const e of feed.events) latest.set(e.payload.booking_id, e);
  const places = new Map(sites.map((x) => [x.id, x.name]));
  const list = $("#my-bookings"); list.replaceChildren();
  const rows = [...bookings].sort((a, b) => new Date(a.slot.start) - new Date(b.slot.start));
  for (const b of rows) {
    const event = latest.get(b.id); const p = event ? event.payload : {};
    const mode = b.slot.mode; const place = (p.site && p.site.name) || places.get(b.slot.site_id);
    const said = b.status === "cancelled" ? "annulé" : b.outcome ? `retour : ${label(OUTCOMES, b.outcome)}` : "";
    const li = item([when(b.slot.start), label(MODES, mode), place, patientLine(mode, p.patient), said]
      .filter(Boolean).join(" — "));
    li.dataset.booking = b.id;
    if (b.status === "active" && !b.outcome && new Date(b.slot.start) <= new Date()) {
      const report = reportForm(b.id);
      for (const [text, status] of [["Honoré", "fulfilled"], ["Non honoré", "noshow"]]) {
        li.append(" ", button(text, async () => {
          const body = { status };
          const f = new FormData(report.querySelector("form"));
          if (status === "fulfilled" && f.get("text").trim()) {
            body.report = { text: f.get("text"), patient: { birth_name: f.get("birth_name"),
              given_name: f.get("given_name"), birth_date: f.get("birth_date"), sex: f.get("sex") } };
          }
          try {
            const done = await api("POST", `/v1/bookings/${b.id}/outcome`, body);
            say("Retour enregistré" + (done.report ? REPORT_SAID[done.report.state] || "" : "")); await loadMine();
          } catch (err) { refuse(report.querySelector("form"), err); }
        }));
      }
      li.append(report);
    }
    if (b.outcome === "fulfilled" && b.outcome_at && Date.now() - new Date(b.outcome_at) < REPORT_DAYS * 86400000) showReport(li, b.id);
    list.appendChild(li);
  }
  if (!rows.length) list.appendChild(item("Aucun rendez-vous."));
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
  } catch (err) { refuse($("#rule"), err); }
}, () => !$("#rule-site").options.length);

onSubmit("#publish", async (f) => {
  const start = fromLocal(f.get("start"), state.timeZone);
  try {
    await api("POST", "/v1/slots", { site_id: f.get("site_id"), start: start.toISOString(), mode: f.get("mode"),
      end: new Date(start.getTime() + Number(f.get("minutes")) * 60000).toISOString() });
    say("Créneau publié"); await loadMine();
  } catch (err) { refuse($("#publish"), err); }
}, () => !$("#my-site").options.length);
