// The territory's time, whatever the browser's zone (node's Intl carries the zone database).
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { formatter, fromLocal, lastTwelveMonths, monthValue, renewIn } from "../../../app/console/static/time.js";

const utc = (value, zone) => fromLocal(value, zone).toISOString();

describe("a time typed in a form is the territory's", () => {
  it("is La Réunion's time for a regulator of La Réunion, four hours ahead of UTC", () => {
    assert.equal(utc("2026-12-01T10:00", "Indian/Reunion"), "2026-12-01T06:00:00.000Z");
  });

  it("follows Paris's summer and winter offsets", () => {
    assert.equal(utc("2026-01-15T14:30", "Europe/Paris"), "2026-01-15T13:30:00.000Z");
    assert.equal(utc("2026-07-15T14:30", "Europe/Paris"), "2026-07-15T12:30:00.000Z");
  });

  it("is right on both sides of the spring change", () => {
    assert.equal(utc("2026-03-29T01:59", "Europe/Paris"), "2026-03-29T00:59:00.000Z");
    assert.equal(utc("2026-03-29T03:00", "Europe/Paris"), "2026-03-29T01:00:00.000Z");
  });

  it("takes a time that does not exist (the spring gap) as the same time an hour later", () => {
    assert.equal(utc("2026-03-29T02:30", "Europe/Paris"), "2026-03-29T01:30:00.000Z");  // 03:30 summer time
  });

  it("takes a time that happens twice (the autumn change) as its second occurrence", () => {
    assert.equal(utc("2026-10-25T02:30", "Europe/Paris"), "2026-10-25T01:30:00.000Z");  // 02:30 winter time
  });

  it("works for zones west of Greenwich too", () => {
    assert.equal(utc("2026-03-08T12:00", "America/New_York"), "2026-03-08T16:00:00.000Z");
    assert.equal(utc("2026-07-14T09:00", "America/Cayenne"), "2026-07-14T12:00:00.000Z");
  });

  it("is nothing when nothing was typed, and the browser's time before the territory is known", () => {
    assert.equal(fromLocal("", "Europe/Paris"), null);
    assert.equal(fromLocal("2026-12-01T10:00", undefined).getTime(), new Date("2026-12-01T10:00").getTime());
  });
});

describe("dates are shown in French in the territory's zone", () => {
  it("shows an instant at La Réunion's wall-clock time", () => {
    assert.equal(formatter("Indian/Reunion").format(new Date("2026-12-01T06:00:00Z")), "01/12/2026 10:00");
    assert.equal(formatter("Europe/Paris").format(new Date("2026-12-01T06:00:00Z")), "01/12/2026 07:00");
  });
});

describe("an analyst's first months", () => {
  it("are the twelve whole months before the current one", () => {
    assert.deepEqual(lastTwelveMonths(new Date(2026, 0, 15)), { from: "2025-01", to: "2025-12" });
    assert.deepEqual(lastTwelveMonths(new Date(2026, 6, 31)), { from: "2025-07", to: "2026-06" });
  });

  it("are written as an <input type=month> reads them", () => {
    assert.equal(monthValue(new Date(2026, 8, 1)), "2026-09");
  });
});

describe("renewing a session", () => {
  it("asks for a new token a minute before the end, or halfway through a shorter life", () => {
    assert.equal(renewIn(10 * 60000), 9 * 60000);
    assert.equal(renewIn(8 * 3600000), 8 * 3600000 - 60000);
    assert.equal(renewIn(60000), 30000);
    assert.equal(renewIn(8000), 4000);
  });
});
