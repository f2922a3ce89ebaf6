// Patients without a médecin traitant: the queue's French, its order, the map's projection.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ERRORS, errorMessage } from "../../../app/console/static/i18n.js";
import {
  doctorName, kmText, mergeLists, patientBrief, patientPoint, priorityText, project, publicsText, sitePoints, today,
  waitingOrder,
} from "../../../app/console/static/mt.js";

describe("a request is told in French", () => {
  it("its priority with its reasons, and the coordinator's own beside the computed one", () => {
    assert.equal(priorityText({ priority: "high", priority_computed: "high", priority_reasons: ["ald", "elderly_70"] }),
      "Haute (ALD, 70 ans ou plus)");
    assert.equal(priorityText({ priority: "normal", priority_computed: "normal", priority_reasons: [] }), "Normale");
    assert.equal(priorityText({ priority: "high", priority_computed: "medium", priority_reasons: ["snp_visit"] }),
      "Haute — fixée par la coordination (calculée : Moyenne, au sortir d'une consultation SNP)");
  });

  it("its patient without his name, its publics, a distance, a doctor", () => {
    assert.equal(patientBrief({ initials: "DM", age: 40, postcode: "36000" }), "DM, 40 ans, 36000");
    assert.equal(patientBrief({ initials: null, age: null, postcode: null }), "patient");
    assert.equal(publicsText(["ald", "children", "new_one"]), "ALD, enfants, new_one");
    assert.equal(publicsText([]), "—");
    assert.equal(kmText(12.345), "12,3 km");
    assert.equal(kmText(null), "—");
    assert.equal(doctorName({ given_name: "Claire", family_name: "Martin" }), "Dr Claire Martin");
  });

  it("the queue's refusals by their kind", () => {
    assert.equal(errorMessage(409, { error: "CapacityExhausted", field: "practitioner_id" }),
      `${ERRORS.CapacityExhausted} (champ practitioner_id)`);
    assert.equal(errorMessage(409, { error: "AlreadyPlaced" }), ERRORS.AlreadyPlaced);
    assert.equal(errorMessage(422, { error: "Unprocessable", field: "first_visit_on",
      detail: "first_visit_on lies in the future" }), "La première consultation ne peut pas être à venir");
    assert.equal(errorMessage(422, { error: "Unprocessable", field: "patient.phone",
      detail: "patient.phone: the coordination calls the patient back (the call named has none)" }),
      "Le téléphone du patient est nécessaire : la coordination le rappelle");
  });
});

describe("the waiting list's order", () => {
  const line = (id, priority, day) => ({ id, priority, created_at: `2026-12-0${day}T10:00:00Z` });

  it("is by priority, then the oldest first", () => {
    const lines = [line("a", "normal", 1), line("b", "high", 3), line("c", "medium", 2), line("d", "high", 1)];
    assert.deepEqual(lines.sort(waitingOrder).map((r) => r.id), ["d", "b", "c", "a"]);
  });

  it("holds when the lists of several states are merged, each request once", () => {
    const merged = mergeLists([[line("a", "normal", 1)], [line("b", "high", 2), line("a", "normal", 1)], []]);
    assert.deepEqual(merged.map((r) => r.id), ["b", "a"]);
  });
});

describe("the map of the doctors who take new patients", () => {
  it("puts north up, west left, in the box with its margin, the same scale both ways", () => {
    const [blanc, chateauroux, issoudun] = project([
      { lat: 46.6339, lon: 1.0628 }, { lat: 46.8103, lon: 1.6913 }, { lat: 46.9481, lon: 1.9933 }], 400, 300, 16);
    for (const p of [blanc, chateauroux, issoudun]) {
      assert.ok(p.x >= 16 - 1e-9 && p.x <= 384 + 1e-9 && p.y >= 16 - 1e-9 && p.y <= 284 + 1e-9, JSON.stringify(p));
    }
    assert.ok(blanc.x < chateauroux.x && chateauroux.x < issoudun.x);  // west to east
    assert.ok(issoudun.y < chateauroux.y && chateauroux.y < blanc.y);  // north up
    // the widest span fills the box's width; a degree of longitude is shorter than one of latitude here
    assert.ok(Math.abs(issoudun.x - blanc.x - 368) < 1e-6);
    const k = Math.cos(((46.6339 + 46.9481) / 2) * Math.PI / 180);
    const ratio = (blanc.y - issoudun.y) / (issoudun.x - blanc.x);
    assert.ok(Math.abs(ratio - (46.9481 - 46.6339) / ((1.9933 - 1.0628) * k)) < 1e-9);
  });

  it("puts one point alone in the middle, and none for no doctor", () => {
    assert.deepEqual(project([{ lat: 46.8, lon: 1.7 }], 400, 300).map((p) => [p.x, p.y]), [[200, 150]]);
    assert.deepEqual(project([], 400, 300), []);
  });

  it("draws a site once, with every doctor there", () => {
    const site = { id: "s1", lat: 46.8, lon: 1.7, name: "MSP" };
    const points = sitePoints([{ practitioner_id: "d1", sites: [site] }, { practitioner_id: "d2", sites: [site,
      { id: "s2", lat: 46.9, lon: 1.9, name: "Cabinet" }] }]);
    assert.deepEqual(points.map((p) => [p.id, p.doctors.map((d) => d.practitioner_id)]), [["s1", ["d1", "d2"]], ["s2", ["d2"]]]);
  });
});

describe("the open request's patient on the map", () => {
  it("is the centroid of his postcode, labelled, and none without one", () => {
    const point = patientPoint({ patient: { postcode: "36300", postcode_centroid: { lat: 46.63, lon: 1.06 } } });
    assert.deepEqual(point, { id: "patient", lat: 46.63, lon: 1.06, postcode: "36300",
      label: "Patient de la demande ouverte : centre du code postal 36300" });
    assert.equal(patientPoint({ patient: { postcode: null, postcode_centroid: null } }), null);
    assert.equal(patientPoint(null), null);
  });

  it("widens the map so that he fits with the sites", () => {
    const sites = [{ id: "a", lat: 46.81, lon: 1.69 }, { id: "b", lat: 46.95, lon: 1.99 }];
    const placed = project([...sites, { id: "patient", lat: 46.63, lon: 1.06 }], 400, 300, 16);
    for (const p of placed) assert.ok(p.x >= 16 - 1e-9 && p.x <= 384 + 1e-9 && p.y >= 0 && p.y <= 300, p.id);
    assert.ok(placed[2].x < placed[0].x && placed[2].y > placed[0].y);  // south-west of Châteauroux
  });
});

describe("today", () => {
  it("is the territory's day, not the browser's", () => {
    const now = new Date("2026-12-07T23:30:00Z");
    assert.equal(today("Europe/Paris", now), "2026-12-08");
    assert.equal(today("Indian/Reunion", now), "2026-12-08");
    assert.equal(today("America/Martinique", now), "2026-12-07");
  });
});
