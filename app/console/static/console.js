"use strict";
// Console of the SAS ambulatoire: every action is a call to the public API with the user's token.
const $ = (sel) => document.querySelector(sel);
const state = {
  token: sessionStorage.getItem("snp.token") || "", territory: sessionStorage.getItem("snp.territory") || "36",
  call: null, me: null, timeZone: undefined, stream: null, calls: [],
};
let fmt = new Intl.DateTimeFormat("fr-FR", { dateStyle: "short", timeStyle: "short" });
const BROWSER_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;
const MODES = { in_person: "Au cabinet", home_visit: "Visite à domicile", teleconsultation: "Téléconsultation" };
const KINDS = { advice: "Conseil médical", slot: "Orientation vers un créneau", prescription: "Prescription", other: "Autre situation" };
const REASONS = { no_answer: "pas de réponse", redirected_15: "réorienté vers le 15", redirected_ed: "adressé aux urgences", other: "autre" };
const STATUS = { waiting: "En attente", in_progress: "En cours", to_reorient: "À réorienter", closed: "Clos" };
const CHANNELS = { "15": "15 (SAMU)", "116117": "116 117", urgences: "Urgences", professionnel: "Professionnel de santé", autre: "Autre" };
const ROLES = { effector: "Médecin effecteur", operator: "Opérateur de soins non programmés", regulator: "Médecin régulateur",
  urgences: "Urgences (IOA)", referrer: "Professionnel adresseur", analyst: "Analyste", admin: "Administrateur" };
// Every kind of API error, in French (the API's detail stays in English for developers).
const ERRORS = {
  Unauthorized: "Votre session n'est pas valide ou a expiré : reconnectez-vous.",
  Forbidden: "Votre rôle ne permet pas cette action.",
  Unregistered: "Votre identité est reconnue mais n'a pas de compte ici : demandez à l'administrateur du SAS de vous inscrire.",
  NotFound: "Introuvable (ou hors de vos territoires).",
  SlotTaken: "Ce créneau vient d'être pris, retenu ou retiré : choisissez-en un autre.",
  CallClosed: "Cet appel est clos.",
  CallBooked: "Cet appel a déjà un rendez-vous : annulez-le ou confirmez un second rendez-vous.",
  NotHeld: "Ce créneau n'est plus retenu pour cet appel.",
  PractitionerBusy: "Le médecin a déjà un créneau ou un rendez-vous à cette heure.",
  NoOverCapacity: "Ce médecin n'accepte pas de rendez-vous en surnuméraire.",
  Conflict: "Action impossible dans l'état actuel.",
  ValidationError: "Un champ est invalide.",
  Unprocessable: "Demande refusée.",
  TooManyRequests: "Trop de demandes : réessayez dans un instant.",
  Unavailable: "Service momentanément indisponible : réessayez dans un instant.",
};

// A time typed in a form ("2026-12-01T14:30") is a time of the territory, whatever the browser's zone:
// the instant whose wall-clock time in the territory's zone is the one typed (DST included).
function fromLocal(value) {
  if (!value) return null;
  const zone = state.timeZone;
  const typed = new Date(`${value}Z`);
  if (!zone) return new Date(value);
  const wall = (at) => {
    const parts = Object.fromEntries(new Intl.DateTimeFormat("en-GB", { timeZone: zone, hourCycle: "h23", year: "numeric",
      month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
      .formatToParts(at).map((x) => [x.type, x.value]));
    return Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
  };
  let instant = typed.getTime() - (wall(typed) - typed.getTime());
  instant -= wall(new Date(instant)) - typed.getTime();  // a second pass when the offset changes in between
  return new Date(instant);
}
function say(text, ok = true) { const m = $("#message"); m.textContent = text; m.className = ok ? "ok" : "error"; }
function when(iso) { return iso ? fmt.format(new Date(iso)) : "—"; }
function cell(row, text) { const td = document.createElement("td"); td.textContent = text ?? "—"; row.appendChild(td); return td; }
function button(label, onclick) {
  const b = document.createElement("button"); b.type = "button"; b.textContent = label;
  b.onclick = () => busy(b, onclick); return b;
}
// A button does nothing more while its request is in flight: a double click never writes twice.
async function busy(element, action) {
  if (element.disabled) return;
  element.disabled = true;
  try { await action(); } finally { element.disabled = false; }
}
function guard(selector, action) { const el = $(selector); el.onclick = () => busy(el, action); }

class ApiError extends Error {
  constructor(status, body) {
    const kind = body && body.error;
    const field = body && body.field ? ` (champ ${body.field})` : "";
    super((ERRORS[kind] || `Erreur ${status}`) + field);
    this.status = status; this.kind = kind;
  }
}

async function api(method, path, body, headers = {}) {
  const init = { method, headers: { Authorization: `Bearer ${state.token}`, ...headers } };
  if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
  const response = await fetch(path, init);
  const text = await response.text();
  const data = text && response.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text;
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// Due in 12 min / late by 33 min, from the due time, ticking.
function lateness(call) {
  if (!call.due_at || call.status === "closed") return "—";
  if (call.first_callback_at) return "rappelé";
  const minutes = Math.round((new Date(call.due_at) - Date.now()) / 60000);
  return minutes >= 0 ? `dans ${minutes} min` : `en retard de ${-minutes} min`;
}

// The live stream: fetch with the token in a header (never in the URL), Server-Sent Events read by hand.
async function follow() {
  if (state.stream) state.stream.abort();
  const controller = new AbortController(); state.stream = controller;
  const live = $("#live");
  try {
    const response = await fetch("/v1/stream", { headers: { Authorization: `Bearer ${state.token}` }, signal: controller.signal });
    if (!response.ok) { live.textContent = "hors ligne"; return; }
    live.textContent = "en direct"; live.className = "on";
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "", last = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end); buffer = buffer.slice(end + 2);
        const event = /^event: ?(.*)$/m.exec(block)?.[1];
        if (event) last = event;
        if (event && event.startsWith("call.")) reloadSoon();
      }
    }
    // The server ended the stream for a reason that another connection would not change.
    if (last === "expired") {
      live.textContent = "hors ligne"; live.className = "";
      say("Votre session a expiré : la file n'est plus à jour. Reconnectez-vous.", false); return;
    }
    if (last === "replaced") {
      live.textContent = "hors ligne"; live.className = "";
      say("La file est suivie dans un autre onglet ouvert avec la même session : celui-ci n'est plus à jour.", false);
      return;
    }
  } catch (err) { if (err.name === "AbortError") return; }
  live.textContent = "reconnexion…"; live.className = "";
  setTimeout(() => { if (state.stream === controller) follow(); }, 2000);
}
let reloadTimer = null;
function reloadSoon() { clearTimeout(reloadTimer); reloadTimer = setTimeout(() => loadQueue(true), 150); }

async function signIn() {
  try {
    state.me = await api("GET", "/v1/me");
  } catch (err) { $("#whoami").textContent = err.message; return; }
  const me = state.me;
  const home = me.territories.find((t) => t.code === state.territory) || me.territories[0];
  if (home && home.code !== state.territory) {  // the registry's territories, not a stale choice
    state.territory = home.code; $("#territory").value = home.code; sessionStorage.setItem("snp.territory", home.code);
  }
  state.timeZone = home ? home.timezone : undefined;
  fmt = new Intl.DateTimeFormat("fr-FR", { dateStyle: "short", timeStyle: "short", timeZone: state.timeZone });
  const zone = state.timeZone && state.timeZone !== BROWSER_ZONE ? ` — heures de ${state.timeZone}` : "";
  const names = me.territories.map((t) => t.name).join(", ") || "tous territoires";
  $("#whoami").textContent = `${me.display_name ? `${me.display_name}, ` : ""}${ROLES[me.role] || me.role} — ${names}${zone}`;
  $("#tz").textContent = zone;
  if (me.expires_at) {
    const left = new Date(me.expires_at) - Date.now();
    if (left > 0) setTimeout(() => say("Votre session expire dans 5 minutes : reconnectez-vous avant la fin de l'appel en cours.", false),
      Math.max(0, left - 5 * 60000));
  }
  arrangeViews(me.role);
  if (["operator", "regulator", "admin"].includes(me.role)) { await loadQueue(); follow(); }
}

// Sign-in through the identity provider (Pro Santé Connect): authorization code with PKCE (S256). The
// verifier stays in this tab; the server exchanges the code with the client secret, never seen here.
const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));
const REDIRECT = `${location.origin}/console/`;
async function startProviderSignIn(provider) {
  const verifier = random(48), stateValue = random(24), nonce = random(24);
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem("snp.pkce", JSON.stringify({ verifier, state: stateValue, territory: $("#territory").value.trim() }));
  const q = new URLSearchParams({ response_type: "code", client_id: provider.client_id, redirect_uri: REDIRECT,
    scope: provider.scope, state: stateValue, nonce, code_challenge: challenge, code_challenge_method: "S256" });
  location.assign(`${provider.authorization_endpoint}?${q}`);
}
async function finishProviderSignIn(params) {
  const pending = JSON.parse(sessionStorage.getItem("snp.pkce") || "null");
  sessionStorage.removeItem("snp.pkce");
  history.replaceState(null, "", "/console/");  // the code leaves the address bar at once
  if (params.get("error")) { say("Connexion refusée par Pro Santé Connect.", false); return; }
  if (!pending || pending.state !== params.get("state")) { say("Connexion interrompue : recommencez.", false); return; }
  const response = await fetch("/v1/auth/token", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ code: params.get("code"), code_verifier: pending.verifier, redirect_uri: REDIRECT }) });
  const data = await response.json().catch(() => null);
  if (!response.ok) { say(new ApiError(response.status, data).message, false); return; }
  state.token = data.access_token; state.territory = pending.territory || state.territory;
  sessionStorage.setItem("snp.token", state.token); sessionStorage.setItem("snp.territory", state.territory);
  $("#territory").value = state.territory;
  await signIn();
}
async function prepareSignIn() {
  let config = { provider: null, token_paste: true };
  try { config = await (await fetch("/v1/auth/config")).json(); } catch { /* offline: paste stays */ }
  const providerButton = $("#provider-sign-in");
  providerButton.hidden = !config.provider;
  $("#paste").hidden = !config.token_paste;
  $("#token").required = !!config.token_paste;
  if (config.provider) providerButton.onclick = () => busy(providerButton, () => startProviderSignIn(config.provider));
  const params = new URLSearchParams(location.search);
  if (params.has("code") || params.has("error")) await finishProviderSignIn(params);
  else if (state.token) { $("#token").value = state.token; $("#territory").value = state.territory; signIn(); }
}

$("#session").addEventListener("submit", (e) => {
  e.preventDefault();
  state.token = $("#token").value.trim();
  state.territory = $("#territory").value.trim();
  sessionStorage.setItem("snp.token", state.token);
  sessionStorage.setItem("snp.territory", state.territory);
  signIn();
});
$("#territory").addEventListener("change", () => {
  if (!state.me) return;
  state.territory = $("#territory").value.trim(); sessionStorage.setItem("snp.territory", state.territory); signIn();
});
$("#sign-out").onclick = () => {
  sessionStorage.clear(); state.token = ""; state.me = null; if (state.stream) state.stream.abort();
  $("#token").value = ""; $("#whoami").textContent = "déconnecté"; $("#queue tbody").replaceChildren();
};

function showTab(name) {
  document.querySelectorAll("nav button[data-tab]").forEach((x) => {
    x.classList.toggle("active", x.dataset.tab === name); x.setAttribute("aria-selected", String(x.dataset.tab === name));
  });
  document.querySelectorAll("main > section").forEach((s) => { s.hidden = s.id !== `tab-${name}`; });
  if (name === "mine") loadMine();
  if (name === "slots" && !$("#over-capacity").hidden) loadOverCapacityChoices();
}
document.querySelectorAll("nav button[data-tab]").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab)));

// Each role sees its own views: the regulation the calls, the ED the slots and its redirections, the
// effector his activity, the analyst the statistics only.
const VIEWS = { operator: ["calls", "slots"], regulator: ["calls", "slots"], admin: ["calls", "slots", "stats"],
  urgences: ["slots"], referrer: ["slots"], effector: ["mine"], analyst: ["stats"] };
function arrangeViews(role) {
  const views = VIEWS[role] || [];
  document.querySelectorAll("nav button[data-tab]").forEach((b) => { b.hidden = !views.includes(b.dataset.tab); });
  const direct = role === "urgences" || role === "referrer";
  $("#redirection").hidden = !direct; $("#my-redirections-block").hidden = !direct;
  $("#over-capacity").hidden = !["operator", "regulator", "admin"].includes(role);
  if (views.length) showTab(views[0]);
  if (direct) myRedirections();
  if (role === "analyst") {
    const now = new Date(); const last = new Date(now.getFullYear(), now.getMonth() - 1, 1);
    const first = new Date(last.getFullYear(), last.getMonth() - 11, 1);
    const month = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}`;
    $("#stats [name=from]").value = month(first); $("#stats [name=to]").value = month(last);
  }
}

// The effector's own activity: his appointments (what he needs to see the patient), his slots, his hours.
async function loadMine() {
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
    const DAYS = ["", "lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."];
    const rules = $("#my-rules"); rules.replaceChildren();
    for (const rule of await api("GET", "/v1/availability-rules")) {
      const li = document.createElement("li");
      li.textContent = `${rule.weekdays.map((d) => DAYS[d]).join(", ")} de ${rule.start_time.slice(0, 5)} à ${rule.end_time.slice(0, 5)}, ` +
        `créneaux de ${rule.slot_minutes} min, ${MODES[rule.mode] || rule.mode}, à partir du ${rule.valid_from} `;
      li.appendChild(button("Arrêter", async () => {
        if (!confirm("Arrêter cette disponibilité ? Ses créneaux libres à venir seront retirés.")) return;
        try { await api("DELETE", `/v1/availability-rules/${rule.id}`); say("Disponibilité arrêtée"); await loadMine(); }
        catch (err) { say(err.message, false); }
      }));
      rules.appendChild(li);
    }
    const body = $("#my-slots tbody"); body.replaceChildren();
    const STATES = { free: "libre", held: "retenu", booked: "réservé", withdrawn: "retiré", past: "passé" };
    for (const slot of slots) {
      const tr = document.createElement("tr");
      cell(tr, when(slot.start)); cell(tr, MODES[slot.mode] || slot.mode); cell(tr, STATES[slot.state] || slot.state);
      const actions = cell(tr, "");
      if (slot.state === "free") actions.appendChild(button("Retirer", async () => {
        try { await api("DELETE", `/v1/slots/${slot.id}`); say("Créneau retiré"); await loadMine(); } catch (err) { say(err.message, false); }
      }));
      body.appendChild(tr);
    }
    const starts = new Map(slots.map((x) => [x.id, x.start]));
    const latest = new Map();
    for (const e of feed.events) latest.set(e.payload.booking_id, e);
    const list = $("#my-bookings"); list.replaceChildren();
    for (const e of [...latest.values()].reverse()) {
      const p = e.payload; const who = p.patient || {};
      const li = document.createElement("li");
      const person = [who.family_name, who.given_name].filter(Boolean).join(" ") || who.initials || "patient";
      li.textContent = `${when(p.start)} — ${MODES[p.mode] || p.mode} — ${person}${who.age != null ? `, ${who.age} ans` : ""}` +
        `${who.phone ? ` — ${who.phone}` : ""}${who.address ? ` — ${who.address}` : ""}` +
        (e.kind === "booking.cancelled" ? " — annulé" : "");
      const start = new Date(starts.get(p.slot_id) || p.start);
      if (e.kind === "booking.created" && start <= new Date()) {
        for (const [label, status] of [["Honoré", "fulfilled"], ["Non honoré", "noshow"]]) {
          li.append(" ", button(label, async () => {
            try { await api("POST", `/v1/bookings/${p.booking_id}/outcome`, { status }); say("Retour enregistré"); }
            catch (err) { say(err.message, false); }
          }));
        }
      }
      list.appendChild(li);
    }
    const weeks = $("#participation tbody"); weeks.replaceChildren();
    for (const w of evidence.weeks) {
      const tr = document.createElement("tr");
      cell(tr, w.week); cell(tr, w.slots_offered); cell(tr, `${String(w.hours_offered).replace(".", ",")} h`);
      cell(tr, w.reaches_forfait ? "atteint" : "non atteint"); cell(tr, w.orientations_received);
      weeks.appendChild(tr);
    }
  } catch (err) { say(err.message, false); }
}
$("#rule").addEventListener("submit", async (e) => {
  e.preventDefault();
  const submit = e.target.querySelector("button[type=submit]");
  if (submit.disabled) return;
  const f = new FormData(e.target);
  const body = { site_id: f.get("site_id"), mode: f.get("mode"), weekdays: f.getAll("weekdays").map(Number),
    start_time: f.get("start_time"), end_time: f.get("end_time"), slot_minutes: Number(f.get("slot_minutes")),
    valid_from: f.get("valid_from") };
  if (f.get("valid_until")) body.valid_until = f.get("valid_until");
  if (!body.weekdays.length) { say("Cochez au moins un jour", false); return; }
  submit.disabled = true;
  try {
    const rule = await api("POST", "/v1/availability-rules", body);
    say(`Disponibilité enregistrée : ${rule.slots_created} créneau(x) publié(s)`); await loadMine();
  } catch (err) { say(err.message, false); } finally { submit.disabled = !$("#rule-site").options.length; }
});
$("#publish").addEventListener("submit", async (e) => {
  e.preventDefault();
  const submit = e.target.querySelector("button[type=submit]");
  if (submit.disabled) return;
  const f = new FormData(e.target);
  const start = fromLocal(f.get("start"));
  submit.disabled = true;
  try {
    await api("POST", "/v1/slots", { site_id: f.get("site_id"), start: start.toISOString(), mode: f.get("mode"),
      end: new Date(start.getTime() + Number(f.get("minutes")) * 60000).toISOString() });
    say("Créneau publié"); await loadMine();
  } catch (err) { say(err.message, false); } finally { submit.disabled = !$("#my-site").options.length; }
});

function patientOf(call) { return call.patient || {}; }

// Answers can come back out of order (a live reload, then a click): only the latest request of a kind
// is shown, never an older answer over a newer one.
const latest = {};
function newest(kind) { const n = (latest[kind] || 0) + 1; latest[kind] = n; return () => latest[kind] === n; }

// quiet: a live update does not cover the message of what the user just did.
async function loadQueue(quiet = false) {
  const current = newest("queue");
  try {
    const calls = await api("GET", `/v1/calls?territory=${encodeURIComponent(state.territory)}&open=true`);
    if (!current()) return;
    state.calls = Array.isArray(calls) ? calls : calls.items || [];
    renderQueue();
    if (quiet !== true) say(`${state.calls.length} appel(s) ouvert(s)`);
  } catch (err) { if (quiet !== true) say(err.message, false); }
}

function renderQueue() {
  const body = $("#queue tbody"); body.replaceChildren();
  for (const call of state.calls) {
    const tr = document.createElement("tr");
    tr.dataset.call = call.id;
    if (call.late) tr.className = "late";
    if (call.status === "to_reorient") tr.className = "reorient";
    cell(tr, when(call.received_at)); cell(tr, call.priority || "P3"); cell(tr, lateness(call));
    cell(tr, CHANNELS[call.channel] || call.channel);
    cell(tr, STATUS[call.status] || call.status);
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
setInterval(() => { if (state.calls.length) renderQueue(); }, 30000);
guard("#refresh-queue", loadQueue);
$("#find").addEventListener("submit", async (e) => {
  e.preventDefault();
  const list = $("#found"); list.replaceChildren();
  try {
    const calls = await api("POST", "/v1/calls/find", { q: new FormData(e.target).get("q") });
    for (const call of calls) {
      const p = call.patient || {};
      const li = document.createElement("li");
      li.textContent = `${when(call.received_at)} — ${[p.family_name, p.given_name].filter(Boolean).join(" ")} ${p.phone || ""} — ${STATUS[call.status] || call.status} `;
      li.appendChild(button("Ouvrir", () => openCall(call.id)));
      list.appendChild(li);
    }
    say(calls.length ? `${calls.length} appel(s) trouvé(s)` : "Aucun appel du jour ne correspond");
  } catch (err) { say(err.message, false); }
});

$("#new-call").addEventListener("submit", async (e) => {
  e.preventDefault();
  const submit = e.target.querySelector("button[type=submit]");
  if (submit.disabled) return;
  submit.disabled = true;
  try { await newCall(e); } finally { submit.disabled = false; }
});
async function newCall(e) {
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
}

async function openCall(id) {
  try {
    const call = await api("GET", `/v1/calls/${id}`);
    state.call = call;
    $("#current-call").textContent = `${call.id.slice(0, 8)} — ${call.reason || "sans motif"}`;
    $("#call-detail").hidden = false; $("#call-id").textContent = call.id.slice(0, 8);
    const p = patientOf(call);
    const info = { "Reçu": when(call.received_at), "Canal": CHANNELS[call.channel] || call.channel, "Priorité": call.priority,
      "Patient": [p.family_name, p.given_name].filter(Boolean).join(" ") || "—", "Naissance": p.birth_year,
      "Téléphone": p.phone, "Code postal": p.postcode, "Motif": call.reason, "Statut": STATUS[call.status] || call.status,
      "Premier rappel": when(call.first_callback_at), "Pris par": call.assigned_to };
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
      li.textContent = `${when(d.decided_at)} — ${KINDS[d.kind] || d.kind}${d.other_reason ? ` (${REASONS[d.other_reason] || d.other_reason})` : ""}` +
        `${d.pharmacy_name ? ` — ${d.pharmacy_name}` : ""}${d.revoked_at ? " — annulée" : ""}`;
      if (d.revoked_at) li.className = "revoked";
      else if (!d.booking_id || !active.has(d.booking_id)) {
        li.append(" ", button("Annuler cette décision", async () => {
          if (!confirm("Annuler cette décision ? Elle restera visible, barrée, et ne sera plus comptée.")) return;
          try { await api("POST", `/v1/calls/${call.id}/decisions/${d.id}/revoke`, { reason: "erreur de saisie" }); say("Décision annulée"); await openCall(call.id); }
          catch (err) { say(err.message, false); }
        }));
      }
      ul.appendChild(li);
    }
    await showAppointments(call);
  } catch (err) { say(err.message, false); }
}

// The call's appointments, in full, to read back to the patient: local time, doctor, address, mode.
async function showAppointments(call) {
  const list = $("#call-bookings"); list.replaceChildren();
  const bookings = [...(call.bookings || [])].sort((x, y) => (x.status === "active" ? -1 : 1) - (y.status === "active" ? -1 : 1));
  for (const b of bookings) {
    const li = document.createElement("li");
    try {
      const booking = await api("GET", `/v1/bookings/${b.id}`);
      const [doctor, site] = await Promise.all([
        api("GET", `/v1/practitioners/${booking.slot.practitioner_id}`), api("GET", `/v1/sites/${booking.slot.site_id}`)]);
      const what = booking.kind === "over_capacity" ? " (en surnuméraire)" : "";
      li.textContent = `${when(booking.slot.start)} — Dr ${doctor.family_name} ${doctor.given_name} — ${site.name}, ` +
        `${site.address} ${site.postcode} — ${MODES[booking.slot.mode] || booking.slot.mode}${what}` +
        (booking.status === "cancelled" ? ` — annulé${booking.cancel_reason ? ` (${booking.cancel_reason})` : ""}` : "");
      if (booking.status === "cancelled") li.className = "revoked";
      if (booking.status === "active" && !booking.outcome) {
        li.append(" ", button("Annuler le rendez-vous", async () => {
          const reason = prompt("Motif de l'annulation (sans nom du patient) :");
          if (reason === null) return;
          try { await api("POST", `/v1/bookings/${b.id}/cancel`, reason ? { reason } : {}); say("Rendez-vous annulé"); await openCall(call.id); }
          catch (err) { say(err.message, false); }
        }), " ", button("Changer de créneau", async () => {
          state.replacing = b.id; say("Choisissez le nouveau créneau : l'ancien sera annulé en même temps.");
          document.querySelector('nav button[data-tab="slots"]').click(); await searchSlots(true);
        }));
      }
    } catch (err) { li.textContent = err.message; }
    list.appendChild(li);
  }
  $("#call-bookings-title").hidden = bookings.length === 0;
}

async function decide(body) {
  if (!state.call) return;
  try { await api("POST", `/v1/calls/${state.call.id}/decisions`, body); say("Décision enregistrée"); await openCall(state.call.id); }
  catch (err) { say(err.message, false); }
}
guard('[data-decision="advice"]', () => decide({ kind: "advice" }));
guard('[data-decision="other"]', () => decide({ kind: "other", other_reason: $("#other-reason").value }));
guard("#do-prescription", async () => {
  const name = prompt("Pharmacie choisie par le patient :"); if (name) await decide({ kind: "prescription", pharmacy: { name } });
});
guard("#do-callback", async () => {
  try { await api("POST", `/v1/calls/${state.call.id}/callback`, {}); say("Rappel enregistré"); await openCall(state.call.id); }
  catch (err) { say(err.message, false); }
});
guard("#do-no-answer", async () => {
  try { await api("POST", `/v1/calls/${state.call.id}/callback`, { answered: false }); say("Rappel sans réponse enregistré"); await openCall(state.call.id); }
  catch (err) { say(err.message, false); }
});
guard("#do-close", async () => {
  if (!confirm("Clore cet appel ? Il quittera la file d'attente.")) return;
  try { await api("POST", `/v1/calls/${state.call.id}/close`); state.call = null; $("#call-detail").hidden = true; await loadQueue(true); say("Appel clos"); }
  catch (err) { say(err.message, false); }
});
$("#to-slots").onclick = () => { showTab("slots"); searchSlots(); };

$("#search").addEventListener("submit", (e) => { e.preventDefault(); searchSlots(); });

async function searchSlots(quiet = false) {
  const f = new FormData($("#search"));
  const q = new URLSearchParams({ territory: state.territory, limit: "50" });
  for (const k of ["mode", "near_postcode", "radius_km", "sort"]) if (f.get(k)) q.set(k, f.get(k));
  // For the open call: its patient's postcode gives the point, his age the children's slots.
  if (state.call) q.set("call_id", state.call.id);
  if (q.get("sort") === "distance" && !q.get("near_postcode") && !state.call?.patient?.postcode) q.delete("sort");
  for (const k of ["start_from", "start_to"]) if (f.get(k)) q.set(k, fromLocal(f.get(k)).toISOString());
  const current = newest("slots");
  try {
    const found = await api("GET", `/v1/slots/search?${q}`);
    if (!current()) return;
    const rows = Array.isArray(found) ? found : found.items || [];
    const body = $("#slots tbody"); body.replaceChildren();
    for (const s of rows) {
      const tr = document.createElement("tr");
      const doctor = s.practitioner ? `Dr ${s.practitioner.family_name} ${s.practitioner.given_name || ""}` : "";
      const site = s.site ? `${s.site.name}, ${s.site.address || ""} ${s.site.postcode || ""}` : "";
      cell(tr, when(s.start)); cell(tr, when(s.end)); cell(tr, doctor); cell(tr, site); cell(tr, MODES[s.mode] || s.mode);
      cell(tr, s.distance_km != null ? `${Number(s.distance_km).toFixed(1)} km` : "—");
      const control = document.createElement("button"); control.type = "button";
      control.textContent = ["urgences", "referrer"].includes(state.me?.role) ? "Réorienter ici" : "Retenir";
      control.onclick = () => busy(control, () => book(s, control));
      cell(tr, "").appendChild(control);
      body.appendChild(tr);
    }
    if (!quiet) say(`${rows.length} créneau(x) libre(s)`);
  } catch (err) { say(err.message, false); }
}

// First click holds the slot (a countdown shows how long), second click books it.
async function book(slot, control) {
  if (["urgences", "referrer"].includes(state.me?.role)) return redirect(slot, control);
  if (!state.call) { say("Ouvrez d'abord l'appel du patient (onglet Appels)", false); return; }
  const call = state.call;
  if (control.dataset.held !== "yes") {
    try {
      const hold = await api("POST", `/v1/slots/${slot.id}/hold`, { call_id: call.id });
      control.dataset.held = "yes";
      // One key per hold: a retry of this booking replays its answer, a later booking of the same slot
      // for the same call (after a cancellation) is a new booking.
      control.dataset.key = crypto.randomUUID();
      const until = new Date(hold.held_until);
      const tick = () => {
        const left = Math.max(0, Math.round((until - Date.now()) / 1000));
        control.textContent = `Réserver (${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")})`;
        if (left === 0) { clearInterval(timer); control.dataset.held = ""; control.textContent = "Retenir"; }
      };
      const timer = setInterval(tick, 1000); tick();
      say(`Créneau du ${when(slot.start)} retenu : confirmez avec le patient puis cliquez « Réserver ».`);
    } catch (err) { say(err.message, false); }
    return;
  }
  const body = { slot_id: slot.id, call_id: call.id };
  const active = (call.bookings || []).filter((x) => x.status === "active");
  if (state.replacing) body.replaces = state.replacing;
  else if (active.length) {
    if (!confirm("Cet appel a déjà un rendez-vous actif. Ajouter un second rendez-vous ?")) return;
    body.also = true;
  }
  try {
    await api("POST", "/v1/bookings", body, { "Idempotency-Key": control.dataset.key });
    state.replacing = null;
    await searchSlots(true); await openCall(call.id);
    // Back on the call, where the appointment is written in full to be read back to the patient.
    showTab("calls"); $("#call-bookings").scrollIntoView({ block: "nearest" });
    say("Créneau réservé, le médecin effecteur est prévenu");
  } catch (err) { say(err.message, false); }
}

// An ED nurse redirects the patient in front of her to the slot, in one form.
async function redirect(slot) {
  const f = new FormData($("#redirection"));
  const patient = {};
  for (const k of ["family_name", "given_name", "phone", "postcode"]) if (f.get(k)) patient[k] = f.get(k);
  if (f.get("birth_year")) patient.birth_year = Number(f.get("birth_year"));
  if (!confirm(`Réorienter le patient vers le créneau du ${when(slot.start)} ?`)) return;
  try {
    await api("POST", "/v1/bookings", { slot_id: slot.id, patient, reason: f.get("reason") || undefined },
      { "Idempotency-Key": crypto.randomUUID() });  // this redirection only: a freed slot can take another patient
    $("#redirection").reset(); say("Patient réorienté, le médecin effecteur est prévenu");
    await searchSlots(true); await myRedirections();
  } catch (err) { say(err.message, false); }
}

async function myRedirections() {
  const list = $("#my-redirections"); list.replaceChildren();
  try {
    const today = new Date().toDateString();
    for (const b of await api("GET", "/v1/bookings?mine=true&limit=100")) {
      if (new Date(b.created_at).toDateString() !== today) continue;
      const li = document.createElement("li");
      li.textContent = `${when(b.slot.start)} — ${MODES[b.slot.mode] || b.slot.mode} — ${b.status === "active" ? "réservé" : "annulé"}`;
      list.appendChild(li);
    }
  } catch (err) { say(err.message, false); }
}

// Nothing fits: an over-capacity appointment with a doctor who agreed on the phone.
async function loadOverCapacityChoices() {
  try {
    const [doctors, sites] = await Promise.all([
      api("GET", `/v1/practitioners?territory=${encodeURIComponent(state.territory)}&limit=200`),
      api("GET", `/v1/sites?territory=${encodeURIComponent(state.territory)}&limit=200`)]);
    const pick = $("#oc-practitioner"); pick.replaceChildren();
    for (const d of doctors) pick.append(new Option(`Dr ${d.family_name} ${d.given_name}${d.accepts_over_capacity ? "" : " (n'accepte pas)"}`, d.id));
    const where = $("#oc-site"); where.replaceChildren();
    for (const site of sites) where.append(new Option(`${site.name}, ${site.postcode}`, site.id));
  } catch (err) { say(err.message, false); }
}
$("#over-capacity").addEventListener("submit", async (e) => {
  e.preventDefault();
  const submit = e.target.querySelector("button[type=submit]");
  if (submit.disabled) return;
  if (!state.call) { say("Ouvrez d'abord l'appel du patient (onglet Appels)", false); return; }
  const f = new FormData(e.target);
  const start = fromLocal(f.get("start"));
  const end = new Date(start.getTime() + Number(f.get("minutes")) * 60000);
  submit.disabled = true;
  try {
    await api("POST", "/v1/bookings", { kind: "over_capacity", call_id: state.call.id, practitioner_id: f.get("practitioner_id"),
      site_id: f.get("site_id"), start: start.toISOString(), end: end.toISOString(), mode: f.get("mode") });
    say("Rendez-vous en surnuméraire enregistré, le médecin est prévenu"); await openCall(state.call.id);
  } catch (err) { say(err.message, false); } finally { submit.disabled = false; }
});

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
      const median = m.callback_delay?.median_minutes;
      cell(tr, median == null ? "—" : `${String(Math.round(median * 10) / 10).replace(".", ",")} min`);
      cell(tr, `${Math.round((m.slots?.fill_rate || 0) * 100)} %`);
      body.appendChild(tr);
    }
    const a = report.total.avoided_ed_visits || {};
    const METHODS = { declared_intent: "de l'intention déclarée", coefficients: "des coefficients" };
    $("#stats-method").textContent = `Moyenne mensuelle : ${String(report.total.monthly_average_calls).replace(".", ",")} appels. ` +
      `Passages aux urgences évités estimés par la méthode ${METHODS[a.method] || a.method}.`;
    const chart = $("#stats-chart"); chart.src = await statsFile("png"); chart.hidden = false;
  } catch (err) { say(err.message, false); }
});
async function statsFile(format) {
  const f = new FormData($("#stats"));
  const q = new URLSearchParams({ territory: state.territory, from: f.get("from"), to: f.get("to"), format });
  const response = await fetch(`/v1/stats/monthly?${q}`, { headers: { Authorization: `Bearer ${state.token}` } });
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  return URL.createObjectURL(await response.blob());
}
async function download(format, extension) {
  const f = new FormData($("#stats"));
  try {
    const a = document.createElement("a"); a.href = await statsFile(format);
    a.download = `snp-${state.territory}-${f.get("from")}-${f.get("to")}.${extension}`; a.click();
  } catch (err) { say(err.message, false); }
}
$("#stats-csv").onclick = (e) => { e.preventDefault(); download("csv-fr", "csv"); };
$("#stats-xlsx").onclick = (e) => { e.preventDefault(); download("xlsx", "xlsx"); };

prepareSignIn();
