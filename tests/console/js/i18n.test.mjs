// The console's French, computed from the API's data.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  CHANNELS, ERRORS, MODES, decimal, errorMessage, label, lateness, liveState, patientName, priorityLabel, queueOrder,
  refusal, thousands, timelineText, triageText,
}
  from "../../../app/console/static/i18n.js";

describe("an API error is told in French", () => {
  it("by its kind, naming the field at fault", () => {
    assert.equal(errorMessage(409, { error: "SlotTaken", detail: "slot taken", field: null }), ERRORS.SlotTaken);
    assert.equal(errorMessage(422, { error: "ValidationError", field: "birth_year" }),
      "Année de naissance : valeur invalide");
    assert.equal(errorMessage(403, { error: "Forbidden", detail: "no", field: null }), ERRORS.Forbidden);
  });

  it("by its status when the kind is unknown or the body is not JSON", () => {
    assert.equal(errorMessage(418, { error: "Teapot" }), "Erreur 418");
    assert.equal(errorMessage(502, "<html>Bad gateway</html>"), "Erreur 502");
    assert.equal(errorMessage(500, null), "Erreur 500");
  });
});

describe("a call's callback time", () => {
  const now = Date.parse("2026-12-01T10:00:00Z");
  const due = (minutes) => new Date(now + minutes * 60000).toISOString();

  it("counts down to the due time, then counts the lateness", () => {
    assert.equal(lateness({ status: "waiting", due_at: due(12) }, now), "dans 12 min");
    assert.equal(lateness({ status: "waiting", due_at: due(0) }, now), "dans 0 min");
    assert.equal(lateness({ status: "in_progress", due_at: due(-33) }, now), "en retard de 33 min");
  });

  it("stops once the patient was called back, and says nothing without a due time or once closed", () => {
    assert.equal(lateness({ status: "in_progress", due_at: due(-5), first_callback_at: due(-10) }, now), "rappelé");
    assert.equal(lateness({ status: "waiting", due_at: null }, now), "—");
    assert.equal(lateness({ status: "closed", due_at: due(-90) }, now), "—");
  });
});

describe("labels", () => {
  it("translate the API's codes, and show a code this page does not know yet as it is", () => {
    assert.equal(label(MODES, "home_visit"), "Visite à domicile");
    assert.equal(label(CHANNELS, "15"), "15 (SAMU)");
    assert.equal(label(MODES, "drone"), "drone");
  });

  it("write decimals with a comma and a patient by family name then given name", () => {
    assert.equal(decimal(2.5), "2,5");
    assert.equal(decimal(12), "12");
    assert.equal(patientName({ family_name: "Durand", given_name: "Louise" }), "Durand Louise");
    assert.equal(patientName({ given_name: "Louise" }), "Louise");
    assert.equal(patientName({}), "");
  });
});

describe("the live badge", () => {
  it("says en direct only while the stream is connected and the last reading succeeded", () => {
    assert.deepEqual(liveState(true, true), { text: "en direct", className: "on" });
    for (const [streaming, fresh] of [[true, false], [false, true], [false, false]]) {
      assert.deepEqual(liveState(streaming, fresh), { text: "Hors ligne — la file n'est plus à jour", className: "off" });
    }
  });
});

describe("priorities", () => {
  it("are named by the territory's own callback delays, never as the SAMU's P0–P3", () => {
    assert.equal(priorityLabel("P1"), "Rappel < 20 min");
    assert.equal(priorityLabel("P2"), "Rappel < 1 h");
    assert.equal(priorityLabel(null), "Rappel < 3 h");
    assert.equal(priorityLabel("P1", { P1: 15, P2: 90, P3: 240 }), "Rappel < 15 min");
    assert.equal(priorityLabel("P2", { P1: 15, P2: 90, P3: 240 }), "Rappel < 1 h 30");
  });

  it("order the queue by priority, the calls to re-orient first within theirs, then the soonest due", () => {
    const calls = [
      { id: "p2-soon", priority: "P2", status: "waiting", due_at: "2026-12-07T10:00:00Z" },
      { id: "p1-late", priority: "P1", status: "waiting", due_at: "2026-12-07T11:00:00Z" },
      { id: "p2-reorient", priority: "P2", status: "to_reorient", due_at: "2026-12-07T12:00:00Z" },
      { id: "none", priority: null, status: "waiting", due_at: "2026-12-07T09:00:00Z" },
      { id: "p1-soon", priority: "P1", status: "in_progress", due_at: "2026-12-07T10:30:00Z" },
    ];
    assert.deepEqual(calls.sort(queueOrder).map((c) => c.id), ["p1-soon", "p1-late", "p2-reorient", "p2-soon", "none"]);
  });
});

describe("a refusal is a precise French sentence naming its field", () => {
  const invalid = (field, type, limit) => ({ error: "ValidationError", detail: "x", field, errors: [{ field, reason: "x", type, limit }] });
  const refused = (field, detail) => ({ error: "Unprocessable", detail, field });

  it("from the fault's kind and bound", () => {
    assert.equal(refusal(invalid("reason", "string_too_long", 2000)), "Motif : 2\u00a0000 caractères au plus");
    assert.equal(refusal(invalid("patient.birth_year", "greater_than_equal", 1900)), "Année de naissance : 1\u00a0900 au moins");
    assert.equal(refusal(invalid("text", "missing")), "Observation : obligatoire");
    assert.equal(refusal(invalid("samu_case_id", "string_pattern_mismatch")), "N° de dossier SAMU : format invalide");
  });

  it("from the domain's own refusals", () => {
    assert.equal(refusal(refused("patient.postcode", "Postcode 36999 does not exist (La Poste)")), "Le code postal 36999 n'existe pas");
    assert.equal(refusal(refused("end", "end: must be after start")), "La fin doit suivre le début");
    assert.equal(refusal(refused("start", "start: is more than 90 days ahead (the publishing horizon, as for slots)")), "Au-delà de 90 jours");
    assert.equal(refusal(refused("patient.phone", "A call entered live needs a way to reach the patient: his phone")),
      "Le téléphone du patient est nécessaire pour le rappeler");
    assert.match(refusal(refused("site_id", "Something new")), /^Lieu : refusé/);
  });

  it("and none without a field", () => {
    assert.equal(refusal({ error: "SlotTaken", detail: "x", field: null }), null);
    assert.equal(refusal(null), null);
    assert.equal(thousands(1234567), "1\u00a0234\u00a0567");
  });
});

describe("a call's history", () => {
  it("says each act in French, struck or not", () => {
    assert.equal(timelineText({ kind: "received", detail: { channel: "15" } }), "Appel reçu (15 (SAMU))");
    assert.equal(timelineText({ kind: "assigned", detail: { to: "dr-x", to_name: "Dr X" } }), "Pris par Dr X");
    assert.equal(timelineText({ kind: "callback", detail: { answered: false } }), "Rappel sans réponse");
    assert.equal(timelineText({ kind: "decision", detail: { kind: "prescription", pharmacy_name: "Pharmacie du Centre", prescribed: "Paracétamol" } }),
      "Décision : Prescription — Pharmacie du Centre : Paracétamol");
    assert.equal(timelineText({ kind: "corrected", detail: { fields: ["patient.phone", "priority"] } }), "Appel corrigé : téléphone, priorité");
    assert.equal(timelineText({ kind: "appointment", detail: { start: "S", practitioner: "Claire Martin", site: "MSP", mode: "in_person", outcome: "noshow" } }, (x) => `<${x}>`),
      "Rendez-vous le <S> avec Claire Martin, MSP (Au cabinet) — non honoré (patient absent)");
  });
});

describe("a queue line's patient", () => {
  it("shows sex and age and the reason's first words, never more", () => {
    assert.deepEqual(triageText({ age: 67, sex: "F", reason_excerpt: "Fièvre…" }), ["F, 67 ans", "Fièvre…"]);
    assert.deepEqual(triageText({ age: null, sex: null, reason_excerpt: null }), ["—", "—"]);
    assert.deepEqual(triageText(null), ["—", "—"]);
  });
});
