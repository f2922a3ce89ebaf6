// The slot list's French and its reading of slot events.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { bookersLabel, distanceLabel, languagesLabel, searchSort, slotChange }
  from "../../../app/console/static/i18n.js";

describe("a slot is told in French", () => {
  it("who may book it, its languages and its distance", () => {
    assert.equal(bookersLabel(["regulation", "urgences", "referrers", "cpts"]), "Tous");
    assert.equal(bookersLabel(["regulation", "cpts"]), "régulation, CPTS");
    assert.equal(languagesLabel(["fr", "en", "xx"]), "français, anglais, xx");
    assert.equal(languagesLabel([]), "—");
    assert.equal(distanceLabel(8.04), "8,0 km");
    assert.equal(distanceLabel(null), "—");
  });
});

describe("the search's order", () => {
  it("is nearest among the soonest when a point is known, unless another is chosen", () => {
    assert.equal(searchSort("", true), "soonest_near");
    assert.equal(searchSort("", false), "start");
    assert.equal(searchSort("distance", true), "distance");
    assert.equal(searchSort("start", true), "start");
    assert.equal(searchSort("soonest_near", false), "start");
  });
});

describe("a slot event", () => {
  it("marks a slot another call holds, frees it when released, removes it when booked", () => {
    assert.equal(slotChange("slot.held", { call_id: "other" }, "mine"), "held_elsewhere");
    assert.equal(slotChange("slot.held", { call_id: "mine" }, "mine"), null);
    assert.equal(slotChange("slot.released", {}, "mine"), "free");
    assert.equal(slotChange("slot.booked", {}, "mine"), "remove");
    assert.equal(slotChange("slot.freed", {}, "mine"), null);
  });
});
