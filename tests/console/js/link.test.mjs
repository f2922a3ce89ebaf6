// The national platform's booking link, and the terms' text, read without a page.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { linkOf, paragraphs } from "../../../app/console/static/i18n.js";

const DOCTOR = "0b7d5c1e-8a52-4d7e-9a0e-2f1c3b4a5d6e", SLOT = "9f8e7d6c-5b4a-4321-8fed-cba987654321";

describe("the platform's link", () => {
  it("names the doctor and the slot, and whether the platform sent it", () => {
    assert.deepEqual(linkOf(`/console/agenda/${DOCTOR}/${SLOT}`, "?origin=sas"),
      { practitioner: DOCTOR, slot: SLOT, origin: "sas" });
    assert.deepEqual(linkOf(`/console/agenda/${DOCTOR.toUpperCase()}/${SLOT}/`, ""),
      { practitioner: DOCTOR, slot: SLOT, origin: null });
    assert.equal(linkOf(`/console/agenda/${DOCTOR}/${SLOT}`, "?origin=other").origin, null);
  });
  it("is no link elsewhere", () => {
    assert.equal(linkOf("/console/", "?origin=sas"), null);
    assert.equal(linkOf(`/console/agenda/${DOCTOR}`, ""), null);
    assert.equal(linkOf(`/console/agenda/${DOCTOR}/${SLOT}/x`, ""), null);
  });
});

describe("the terms of use", () => {
  it("read as plain paragraphs", () => {
    assert.deepEqual(paragraphs("# Titre\n\n1. **Objet.** Une\n   phrase.\n\n\n2. Autre."),
      ["Titre", "1. Objet. Une phrase.", "2. Autre."]);
  });
});
