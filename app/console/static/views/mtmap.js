// The map of the doctors who take new patients (GET /v1/new-patient-doctors): each site of their offer a point
// drawn from its coordinates, in an SVG of our own (no tiles, nothing fetched from elsewhere), and the same
// doctors in a list beside it for whoever does not see the map. A request's candidates are marked on it, and its
// patient placed at the centroid of his postcode (a square, labelled; the list says it too).
import { api } from "../api.js";
import { $, item } from "../dom.js";
import { doctorName, project, publicsText, sitePoints } from "../mt.js";
import { state } from "../state.js";

const SVG = "http://www.w3.org/2000/svg";
let points = [];
let marked = new Set();
let patient = null;  // the open request's patient: { lat, lon, postcode, label } (mt.js patientPoint)

export async function loadDoctors() {
  let doctors = [];
  try {
    doctors = await api("GET", `/v1/new-patient-doctors?territory=${encodeURIComponent(state.territory)}`);
  } catch { /* the list says so below */ }
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

// The sites of a request's candidates, marked on the map (none: none marked), and its patient's point (null: none).
export function markCandidates(siteIds, patientAt = null) { marked = new Set(siteIds); patient = patientAt; draw(); }

function draw() {
  const layer = $("#mt-map .points"); layer.replaceChildren();
  const box = $("#mt-map").viewBox.baseVal;
  const placed = project(patient ? [...points, patient] : points, box.width, box.height, 16);
  const here = patient ? placed.pop() : null;
  for (const p of placed) {
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
  drawPatient(layer, here, box);
}

// The patient: a square (not a dot, whatever the colours), "Patient" beside it; the list's first line says where.
function drawPatient(layer, here, box) {
  $("#mt-doctors li.patient")?.remove();
  if (!here) return;
  const mark = document.createElementNS(SVG, "rect");
  mark.setAttribute("x", (here.x - 6).toFixed(1)); mark.setAttribute("y", (here.y - 6).toFixed(1));
  mark.setAttribute("width", "12"); mark.setAttribute("height", "12"); mark.setAttribute("class", "patient");
  const title = document.createElementNS(SVG, "title"); title.textContent = here.label; mark.appendChild(title);
  const name = document.createElementNS(SVG, "text");
  const east = here.x > box.width * 0.6;
  name.setAttribute("x", (here.x + (east ? -10 : 10)).toFixed(1)); name.setAttribute("y", (here.y - 8).toFixed(1));
  name.setAttribute("text-anchor", east ? "end" : "start"); name.setAttribute("class", "patient");
  name.textContent = "Patient";
  layer.append(mark, name);
  const line = item(`${here.label} (le carré sur la carte), d'où se mesurent les distances`);
  line.className = "patient";
  $("#mt-doctors").prepend(line);
}
