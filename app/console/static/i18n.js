// The console's French: labels of the API's codes and the phrases computed from data. Pure (no page,
// no clock of its own), so that node tests it without a browser.
export const MODES = { in_person: "Au cabinet", home_visit: "Visite à domicile", teleconsultation: "Téléconsultation" };
export const KINDS = { advice: "Conseil médical", slot: "Orientation vers un créneau", prescription: "Prescription", other: "Autre situation" };
export const REASONS = { no_answer: "pas de réponse", redirected_15: "réorienté vers le 15", redirected_ed: "adressé aux urgences", other: "autre" };
export const STATUS = { waiting: "En attente", in_progress: "En cours", to_reorient: "À réorienter", closed: "Clos" };
export const CHANNELS = { "15": "15 (SAMU)", "116117": "116 117", urgences: "Urgences", professionnel: "Professionnel de santé", autre: "Autre" };
export const ROLES = { effector: "Médecin effecteur", operator: "Opérateur de soins non programmés", regulator: "Médecin régulateur",
  urgences: "Urgences (IOA)", referrer: "Professionnel adresseur", analyst: "Analyste", admin: "Administrateur",
  coordinator: "Coordination de la CPTS" };
// What an effector said of an appointment (POST /v1/bookings/{id}/outcome).
export const OUTCOMES = { fulfilled: "honoré", noshow: "non honoré (patient absent)" };
export const SLOT_STATES = { free: "libre", held: "retenu", booked: "réservé", withdrawn: "retiré", past: "passé" };
export const DAYS = ["", "lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."];
export const METHODS = { declared_intent: "de l'intention déclarée", coefficients: "des coefficients" };
// Every kind of API error, in French (the API's detail stays in English for developers).
export const ERRORS = {
  Unauthorized: "Votre session n'est pas valide ou a expiré : reconnectez-vous.",
  Forbidden: "Votre rôle ne permet pas cette action.",
  Unregistered: "Votre identité est reconnue mais n'a pas de compte ici : demandez à l'administrateur du SAS de vous inscrire.",
  OutsidePlatform: "Ce compte régulateur de la plateforme numérique SAS ne s'utilise qu'en venant de la plateforme : ouvrez le créneau depuis la plateforme numérique SAS.",
  TermsNotAccepted: "Acceptez d'abord les conditions générales d'utilisation.",
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
  // Patients without a médecin traitant (app/mt).
  CapacityExhausted: "Ce médecin n'a plus de place pour un nouveau patient ce mois-ci.",
  AlreadyPlaced: "Un autre médecin a déjà accepté ce patient.",
  NotAccepting: "Ce médecin ne prend plus de nouveaux patients.",
  WrongState: "Cette demande ou cette proposition n'en est plus là : rechargez-la.",
};

// An API error body ({"error", "detail", "field"}) as the user reads it; an unknown kind shows its status.
// A refused field is said in a sentence of its own ("Le code postal 36999 n'existe pas").
export function errorMessage(status, body) {
  const kind = body && body.error;
  if (kind === "CallHeld") return `Cet appel est pris par ${body.holder_name || body.holder} : confirmez pour le reprendre.`;
  const sentence = refusal(body);
  if (sentence) return sentence;
  const field = body && body.field ? ` (champ ${body.field})` : "";
  return (ERRORS[kind] || `Erreur ${status}`) + field;
}

// The fields of the API's bodies and parameters as the forms name them.
export const FIELDS = {
  "patient.postcode": "Code postal", postcode: "Code postal", near_postcode: "Code postal",
  "patient.phone": "Téléphone", phone: "Téléphone", "patient.family_name": "Nom", family_name: "Nom",
  "patient.given_name": "Prénom", given_name: "Prénom", "patient.birth_year": "Année de naissance",
  birth_year: "Année de naissance", "patient.sex": "Sexe", "patient.address": "Adresse", reason: "Motif",
  text: "Observation", samu_case_id: "N° de dossier SAMU", priority: "Priorité", prescribed: "Prescription",
  pharmacy_finess: "FINESS de la pharmacie", pharmacy_name: "Pharmacie", start: "Début", end: "Fin",
  start_from: "Début", start_to: "Fin", from: "Début", to: "Fin", valid_from: "Début", valid_until: "Fin",
  start_time: "Heure de début", end_time: "Heure de fin", slot_minutes: "Durée", minutes: "Durée",
  radius_km: "Rayon", no_phone_reason: "Raison de l'absence de téléphone", site_id: "Lieu",
  practitioner_id: "Médecin", received_at: "Heure de réception", weekdays: "Jours", mode: "Mode",
  per_month: "Nombre par mois", publics: "Publics", site_ids: "Lieux", until: "Jusqu'au",
  first_visit_on: "Première consultation", patient_agreed: "Accord du patient", call_id: "Appel",
};

// 2000 → "2 000" (a no-break space, as French writes thousands).
export function thousands(value) { return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, "\u00a0"); }

// The domain's refusals the console words its own way, recognised by their field and their detail.
const SAID = [
  // Patients without a médecin traitant (app/mt), before the general phrases below.
  [/^patient\.phone: the coordination calls/, () => "Le téléphone du patient est nécessaire : la coordination le rappelle"],
  [/^first_visit_on lies in the future/, () => "La première consultation ne peut pas être à venir"],
  [/^first_visit_on is before the request/, () => "La première consultation ne peut pas précéder la demande"],
  [/^practitioner_id: not a candidate/, () => "Ce médecin n'est pas candidat pour ce patient"],
  [/^per_month: at least 1/, () => "Nombre par mois : au moins 1 quand vous acceptez de nouveaux patients"],
  [/^publics: say whom you take/, () => "Publics : cochez au moins un public"],
  [/^site_ids: say at which/, () => "Lieux : cochez au moins un de vos lieux"],
  [/^until: the offer's last day lies in the past/, () => "Jusqu'au : la date est passée"],
  [/^Postcode (\S+) does not exist/, (m) => `Le code postal ${m[1]} n'existe pas`],
  [/^Postcode (\S+) is outside territory/, (m) => `Le code postal ${m[1]} n'est pas du territoire : patient hors territoire ?`],
  [/needs a way to reach the patient/, () => "Le téléphone du patient est nécessaire pour le rappeler"],
  [/^Give the patient's phone/, () => "Le téléphone du patient est nécessaire (ou dites pourquoi il n'y en a pas)"],
  [/^Name the patient the doctor will see/, () => "Le nom et l'année de naissance du patient sont nécessaires : le médecin doit savoir qui il reçoit"],
  [/must be after start|must not be before|is before from|must be after start_from|must not be after to/, () => "La fin doit suivre le début"],
  [/more than (\d+) days ahead/, (m) => `Au-delà de ${m[1]} jours`],
  [/lies in the future/, (m, name) => `${name} : l'heure est dans le futur`],
  [/is before the call was received/, (m, name) => `${name} : avant la réception de l'appel`],
  [/the appointment is over already/, () => "Ce rendez-vous est déjà passé"],
  [/site is in a territory the practitioner does not serve/, () => "Ce lieu n'est pas dans un territoire du médecin"],
];

// One fault of a ValidationError as a sentence: the field's name, then what it must be.
function fault(name, type, limit) {
  const n = typeof limit === "number" ? thousands(limit) : limit;
  switch (type) {
    case "missing": return `${name} : obligatoire`;
    case "string_too_long": return `${name} : ${n} caractères au plus`;
    case "string_too_short": return limit === 1 ? `${name} : obligatoire` : `${name} : ${n} caractères au moins`;
    case "too_long": return `${name} : ${n} au plus`;
    case "too_short": return `${name} : ${n} au moins`;
    case "less_than_equal": return `${name} : ${n} au plus`;
    case "less_than": return `${name} : moins de ${n}`;
    case "greater_than_equal": return `${name} : ${n} au moins`;
    case "greater_than": return `${name} : plus de ${n}`;
    case "string_pattern_mismatch": return `${name} : format invalide`;
    case "literal_error": case "enum": return `${name} : valeur non prévue`;
    case "int_parsing": case "int_type": case "float_parsing": case "int_from_float": return `${name} : un nombre est attendu`;
    case "datetime_parsing": case "datetime_from_date_parsing": case "timezone_aware": return `${name} : date et heure invalides`;
    default: return `${name} : valeur invalide`;
  }
}

// A refusal naming a field, as a precise French sentence; null when the body names none.
export function refusal(body) {
  if (!body || typeof body !== "object" || !body.field) return null;
  const name = FIELDS[body.field] || FIELDS[body.field.split(".").pop()] || body.field;
  if (body.error === "ValidationError") {
    const first = (body.errors || []).find((e) => e.field === body.field) || {};
    return fault(name, first.type, first.limit);
  }
  if (body.error !== "Unprocessable") return null;
  for (const [pattern, say] of SAID) {
    const match = pattern.exec(body.detail || "");
    if (match) return say(match, name);
  }
  return `${name} : refusé (${body.detail})`;
}

// A code's French label, or the code itself when a newer API sends one this page does not know yet.
export function label(table, code) { return table[code] || code; }

// Due in 12 min / late by 33 min, from the due time, ticking.
export function lateness(call, now = Date.now()) {
  if (!call.due_at || call.status === "closed") return "—";
  if (call.first_callback_at) return "rappelé";
  const minutes = Math.round((new Date(call.due_at) - now) / 60000);
  return minutes >= 0 ? `dans ${minutes} min` : `en retard de ${-minutes} min`;
}

// French decimals: a comma, not a point.
export function decimal(value) { return String(value).replace(".", ","); }

export function patientName(patient) { return [patient.family_name, patient.given_name].filter(Boolean).join(" "); }

// The live badge: "en direct" only while the stream is connected and the last reading of the queue
// succeeded; anything else means the queue shown may be stale.
export function liveState(streaming, fresh) {
  if (streaming && fresh) return { text: "en direct", className: "on" };
  return { text: "Hors ligne — la file n'est plus à jour", className: "off" };
}

// A priority named by the territory's own callback delay ("Rappel < 20 min"), never as the SAMU's P0–P3
// (which mean something else): the API's codes stay P1–P3. No priority is P3's delay.
export const DEFAULT_DELAYS = { P1: 20, P2: 60, P3: 180 };
export function priorityLabel(code, delays = DEFAULT_DELAYS) {
  const key = code || "P3";
  const minutes = Number((delays && delays[key]) ?? DEFAULT_DELAYS[key]);
  if (!Number.isFinite(minutes)) return key;
  const text = minutes < 60 ? `${minutes} min` : minutes % 60 ? `${Math.floor(minutes / 60)} h ${minutes % 60}` : `${minutes / 60} h`;
  return `Rappel < ${text}`;
}

// The queue's order: by priority, the calls to re-orient first within theirs, then the soonest due.
const RANK = { P1: 0, P2: 1, P3: 2 };
export function queueOrder(a, b) {
  return (RANK[a.priority || "P3"] - RANK[b.priority || "P3"])
    || ((b.status === "to_reorient") - (a.status === "to_reorient"))
    || (new Date(a.due_at || 8.64e15) - new Date(b.due_at || 8.64e15));
}

// One act of a call's timeline as a French phrase (who did it is said beside it). `at` formats a time.
const CORRECTED = { priority: "priorité", reason: "motif", samu_case_id: "dossier SAMU", "patient.phone": "téléphone",
  "patient.family_name": "nom", "patient.given_name": "prénom", "patient.birth_year": "année de naissance",
  "patient.sex": "sexe", "patient.postcode": "code postal", "patient.address": "adresse" };
export function timelineText(entry, at = (iso) => iso) {
  const d = entry.detail || {};
  switch (entry.kind) {
    case "received": return `Appel reçu (${label(CHANNELS, d.channel)})`;
    case "assigned": return `Pris par ${d.to_name || d.to}`;
    case "taken_over": return `Repris (il était à ${d.from})`;
    case "callback": return d.answered ? "Rappel du patient" : "Rappel sans réponse";
    case "observation": return `Observation : ${d.text ?? "[texte effacé au terme de la conservation]"}`;
    case "decision": return `Décision : ${label(KINDS, d.kind)}${d.other_reason ? ` (${label(REASONS, d.other_reason)})` : ""}` +
      `${d.pharmacy_name ? ` — ${d.pharmacy_name}` : ""}${d.prescribed ? ` : ${d.prescribed}` : ""}`;
    case "decision_revoked": return `Décision annulée${d.reason ? ` : ${d.reason}` : ""}`;
    case "appointment": return `Rendez-vous ${d.over_capacity ? "en surnuméraire " : ""}le ${at(d.start)} avec ${d.practitioner}, ` +
      `${d.site} (${label(MODES, d.mode)})${d.outcome ? ` — ${label(OUTCOMES, d.outcome)}` : ""}`;
    case "appointment_cancelled": return `Rendez-vous annulé${d.reason ? ` : ${d.reason}` : ""}`;
    case "reoriented": return `À réorienter${d.reason ? ` : ${d.reason}` : ""}`;
    case "corrected": return `Appel corrigé : ${(d.fields || []).map((f) => CORRECTED[f] || f).join(", ")}`;
    case "closed": return "Appel clos";
    default: return entry.kind;
  }
}

// A queue line's patient at a glance: "F, 67 ans" and the reason's first words (no name, no phone).
const SEXES = { F: "F", M: "H", U: "sexe indéterminé" };
export function triageText(triage) {
  if (!triage) return ["—", "—"];
  const who = [triage.sex ? SEXES[triage.sex] || triage.sex : null, triage.age != null ? `${triage.age} ans` : null]
    .filter(Boolean).join(", ");
  return [who || "—", triage.reason_excerpt || "—"];
}

// ---- The slot list: who may book a slot, for whom, in which languages; what the stream says of it.
export const BOOKERS = { regulation: "régulation", urgences: "urgences", referrers: "adresseurs", cpts: "CPTS" };
export const AUDIENCES = { all: "Tout public", children: "Enfants", ehpad: "EHPAD" };
export const LANGUAGES = { fr: "français", en: "anglais", es: "espagnol", de: "allemand", it: "italien", pt: "portugais",
  ar: "arabe", zh: "chinois", ru: "russe", tr: "turc", ro: "roumain", pl: "polonais", nl: "néerlandais" };
export const HELD_ELSEWHERE = "Retenu par un autre poste";
export const SORTS = { soonest_near: "Par jour, le plus proche", start: "Le plus tôt", distance: "Le plus proche" };
export function bookersLabel(codes) {
  const all = Object.keys(BOOKERS);
  if (!codes || all.every((c) => codes.includes(c))) return "Tous";
  return codes.map((c) => label(BOOKERS, c)).join(", ");
}
export function languagesLabel(codes) { return codes && codes.length ? codes.map((c) => label(LANGUAGES, c)).join(", ") : "—"; }
export function distanceLabel(km) { return km == null ? "—" : `${decimal(Number(km).toFixed(1))} km`; }
// The order a search asks: the one chosen, else nearest among the soonest when a point is known (the
// patient's postcode), soonest otherwise; an order by distance needs a point.
export function searchSort(chosen, hasPoint) {
  if (!chosen) return hasPoint ? "soonest_near" : "start";
  return (chosen === "distance" || chosen === "soonest_near") && !hasPoint ? "start" : chosen;
}
// What a slot event means for a list showing the slot (null: nothing): another call's hold marks it,
// a released hold frees it again, a booking removes it; the console's own call's hold changes nothing.
export function slotChange(name, data, ownCallId) {
  if (name === "slot.held") return data.call_id && data.call_id === ownCallId ? null : "held_elsewhere";
  if (name === "slot.released") return "free";
  if (name === "slot.booked") return "remove";
  return null;
}

// The national SAS platform's booking link an address is (/console/agenda/<doctor>/<slot>, origin=sas
// appended by the platform), or null: the doctor, the slot, and whether it came from the platform.
const LINK = /^\/console\/agenda\/([0-9a-f-]{36})\/([0-9a-f-]{36})\/?$/i;
export function linkOf(pathname, search) {
  const m = LINK.exec(pathname);
  if (!m) return null;
  return { practitioner: m[1].toLowerCase(), slot: m[2].toLowerCase(),
    origin: new URLSearchParams(search).get("origin") === "sas" ? "sas" : null };
}

// The terms of use's text (Markdown) as paragraphs: headings and emphasis read as plain lines.
export function paragraphs(text) {
  return text.split(/\n\s*\n/).map((block) => block.replace(/^#+\s*/, "").replace(/\*\*/g, "").replace(/\s*\n\s*/g, " ").trim())
    .filter(Boolean);
}
