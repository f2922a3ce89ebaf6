// The map of the doctors who take new patients (GET /v1/new-patient-doctors): each site of their offer a point
// drawn from its coordinates, in an SVG of our own (no tiles, nothing fetched from elsewhere), and the same
// doctors in a list beside it for whoever does not see the map. A request's candidates are marked on it.
import { api } from "../api.js";
import { $, item } from "../dom.js";
import { doctorName, project, publicsText, sitePoints } from "../mt.js";
import { state } from "../state.js";

const SVG = "http://www.w3.org/2000/svg";
const names = new Map();  // practitioner id → "Dr Claire Martin"
let points = [];
let marked = new Set();

export async function loadDoctors() {
  let doctors = [];
  try {
    doctors = await api("GET", `/v1/new-patient-doctors?territory=${encodeURIComponent(state.territory)}`);
  } catch { /* the list says so below */ }
  for (const d of doctors) names.set(d.practitioner_id, doctorName(d));
  const list = $("#mt-doctors"); list.replaceChildren();
  for (const d of doctors) {
    const places = d.sites.map((s) => `${s.name}, ${s.address} ${s.postcode}`).join(" ; ");
    const li = item(`${doctorName(d)}${d.specialty ? ` (${d.specialty})` : ""} — ${publicsText(d.publics)} — ` +
      `${d.capacity_left} place(s) ce mois sur ${d.per_month}${d.until ? `, jusqu'au ${d.until}` : ""} — ${places}`);
    li.dataset.practitioner = d.practitioner_id;
    list.appendChild(li);
  }
  if (!doctors.length) list.appendChild(item("Aucun médecin ne prend de nouveaux patients dans ce territoire pour l'instant."));
  points = sitePoints(doctors);
  draw();
}

// The sites of a request's candidates, marked on the map (none: none marked).
export function markCandidates(siteIds) { marked = new Set(siteIds); draw(); }

function draw() {
  const layer = $("#mt-map .points"); layer.replaceChildren();
  const box = $("#mt-map").viewBox.baseVal;
  for (const p of project(points, box.width, box.height, 16)) {
    const dot = document.createElementNS(SVG, "circle");
    dot.setAttribute("cx", p.x.toFixed(1)); dot.setAttribute("cy", p.y.toFixed(1));
    dot.setAttribute("r", marked.has(p.id) ? "8" : "6");
    dot.setAttribute("class", marked.has(p.id) ? "candidate" : "site");
    dot.dataset.site = p.id;
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${p.site.name} : ${p.doctors.map(doctorName).join(", ")}`;
    dot.appendChild(title);
    // The site's name beside its point, on the side where it fits.
    const name = document.createElementNS(SVG, "text");
    const east = p.x > box.width * 0.6;
    name.setAttribute("x", (p.x + (east ? -10 : 10)).toFixed(1)); name.setAttribute("y", (p.y + 4).toFixed(1));
    name.setAttribute("text-anchor", east ? "end" : "start");
    name.textContent = p.site.name.length > 28 ? `${p.site.name.slice(0, 27)}…` : p.site.name;
    layer.append(dot, name);
  }
}

// A doctor's name, from the list when he is on it, else from the registry.
export async function doctorNamed(id) {
  if (!names.has(id)) {
    try { names.set(id, doctorName(await api("GET", `/v1/practitioners/${id}`))); } catch { return "médecin"; }
  }
  return names.get(id);
}
