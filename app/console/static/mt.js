// Patients without a médecin traitant (docs/mt.md): the French of the queue's codes, its order, and the
// map's projection. Pure (no page, no clock of its own), so that node tests it without a browser.

export const MT_STATES = { waiting: "En attente", proposed: "Proposée à un médecin", accepted: "Acceptée par un médecin",
  found: "Médecin traitant trouvé", closed: "Close" };
export const MT_PRIORITIES = { high: "Haute", medium: "Moyenne", normal: "Normale" };
export const MT_REASONS = { ald: "ALD", pregnancy: "grossesse", disability: "handicap", child_under_6: "enfant de moins de 6 ans",
  elderly_70: "70 ans ou plus", snp_visit: "au sortir d'une consultation SNP" };
export const MT_PUBLICS = { ald: "ALD", children: "enfants", elderly: "personnes âgées", disability: "handicap",
  any: "tout public", pregnancy: "grossesse" };
export const MT_SOURCES = { regulation: "régulation (appel)", effector: "médecin effecteur", referrer: "adresseur",
  self: "le patient lui-même", coordinator: "coordination", import: "import" };
export const MT_CLOSED = { found_elsewhere: "médecin trouvé par ailleurs", unreachable: "patient injoignable",
  moved: "patient parti du territoire", deceased: "patient décédé" };
export const MT_REFUSALS = { no_capacity: "plus de place", publics: "hors des publics que je prends", too_far: "trop loin",
  patient_known: "patient déjà connu de moi", other: "autre raison" };
export const MT_PROPOSALS = { pending: "en attente de la réponse du médecin", accepted: "acceptée", refused: "refusée",
  withdrawn: "retirée" };
// The states still to work on, in the list's default view.
export const OPEN_STATES = ["waiting", "proposed", "accepted"];

const named = (table, code) => table[code] || code;

// "ALD, enfants" — or "—" when there is none.
export function publicsText(codes) { return codes && codes.length ? codes.map((c) => named(MT_PUBLICS, c)).join(", ") : "—"; }

// "Haute (ALD, 70 ans ou plus)"; "Moyenne — fixée par la coordination (calculée : Normale)" when adjusted.
export function priorityText(request) {
  const reasons = (request.priority_reasons || []).map((r) => named(MT_REASONS, r));
  const base = `${named(MT_PRIORITIES, request.priority)}${reasons.length ? ` (${reasons.join(", ")})` : ""}`;
  if (request.priority_computed && request.priority_computed !== request.priority) {
    return `${named(MT_PRIORITIES, request.priority)} — fixée par la coordination (calculée : ` +
      `${named(MT_PRIORITIES, request.priority_computed)}${reasons.length ? `, ${reasons.join(", ")}` : ""})`;
  }
  return base;
}

// The waiting list's order, as the API gives each list: by priority, then the oldest first.
const RANK = { high: 0, medium: 1, normal: 2 };
export function waitingOrder(a, b) {
  return ((RANK[a.priority] ?? 3) - (RANK[b.priority] ?? 3)) || (new Date(a.created_at) - new Date(b.created_at));
}
// Several lists (one a state) as one, in the waiting list's order; a request in two answers counts once.
export function mergeLists(lists) {
  const seen = new Map();
  for (const list of lists) for (const r of list) seen.set(r.id, r);
  return [...seen.values()].sort(waitingOrder);
}

// A line of the list, without the patient's name: "DM, 40 ans, 36000".
export function patientBrief(line) {
  return [line.initials || "patient", line.age != null ? `${line.age} ans` : null, line.postcode].filter(Boolean).join(", ");
}

// "12,3 km", or "—" without the patient's postcode.
export function kmText(km) { return km == null ? "—" : `${String(Number(km).toFixed(1)).replace(".", ",")} km`; }

// "Dr Claire Martin"
export function doctorName(d) { return d ? `Dr ${[d.given_name, d.family_name].filter(Boolean).join(" ")}` : "médecin"; }

// The points of a map (lat, lon) in a box of width × height with a margin: an equirectangular projection
// scaled by the cosine of the middle latitude (right at a territory's scale), north up, the same scale on both
// axes, centred. One point alone sits in the middle.
export function project(points, width, height, pad = 10) {
  if (!points.length) return [];
  const lats = points.map((p) => p.lat), lons = points.map((p) => p.lon);
  const [minLat, maxLat, minLon, maxLon] = [Math.min(...lats), Math.max(...lats), Math.min(...lons), Math.max(...lons)];
  const k = Math.cos(((minLat + maxLat) / 2) * Math.PI / 180);
  const spanX = (maxLon - minLon) * k, spanY = maxLat - minLat;
  const scale = Math.min(spanX ? (width - 2 * pad) / spanX : Infinity, spanY ? (height - 2 * pad) / spanY : Infinity);
  const s = Number.isFinite(scale) ? scale : 0;
  const offX = (width - spanX * s) / 2, offY = (height - spanY * s) / 2;
  return points.map((p) => ({ ...p, x: offX + (p.lon - minLon) * k * s, y: offY + (maxLat - p.lat) * s }));
}

// The points a list of doctors (GET /v1/new-patient-doctors) puts on the map: one a site, several doctors at
// one site on one point.
export function sitePoints(doctors) {
  const bySite = new Map();
  for (const d of doctors) {
    for (const site of d.sites || []) {
      const point = bySite.get(site.id) || { id: site.id, lat: site.lat, lon: site.lon, site, doctors: [] };
      point.doctors.push(d); bySite.set(site.id, point);
    }
  }
  return [...bySite.values()];
}

// The open request's patient on the map: the centroid of his postcode (GET /v1/mt-requests/{id},
// patient.postcode_centroid), the point the candidates' distances are measured from; null without one.
export function patientPoint(request) {
  const p = (request && request.patient) || {};
  const c = p.postcode_centroid;
  if (!c) return null;
  return { id: "patient", lat: c.lat, lon: c.lon, postcode: p.postcode,
    label: `Patient de la demande ouverte : centre du code postal ${p.postcode}` };
}

// Today in a time zone, as a date input wants it (YYYY-MM-DD).
export function today(timeZone, now = new Date()) {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(now);
}
