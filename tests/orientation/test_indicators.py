"""Indicators of means in the monthly report: active effectors, postcodes within 30 km of a site with
a slot, over-capacity appointments and re-orientations."""

from __future__ import annotations

import csv
import datetime as dt
import math
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.bookings.helpers import make_call, make_slot, now, world
from tests.stats.helpers import monthly, this_month
from tests.support.factories import create_cpts, create_practitioner

POSTCODES = Path(__file__).resolve().parents[2] / "app" / "reference" / "fr-postcodes.csv"


def _km(lat1, lon1, lat2, lon2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


def _expected(departement, lat, lon):
    """(postcodes of the département with coordinates, those within 30 km), from the vendored file."""
    with POSTCODES.open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f, delimiter=";") if departement in r["departements"].split("|") and r["lat"]]
    return len(rows), sum(_km(float(r["lat"]), float(r["lon"]), lat, lon) <= 30 for r in rows)


def _month():
    return (now() + dt.timedelta(hours=2)).astimezone(ZoneInfo("Europe/Paris")).strftime("%Y-%m")


def _four_hours_in_one_month() -> dt.datetime:
    """A start two hours from now, or early next month when the four hours from it would cross into it
    (in Paris): the slots of a test stay in one month whatever the hour it runs at."""
    paris = ZoneInfo("Europe/Paris")
    start = now() + dt.timedelta(hours=2)
    if (start + dt.timedelta(hours=3)).astimezone(paris).month != start.astimezone(paris).month:
        local = (start + dt.timedelta(hours=3)).astimezone(paris)
        start = dt.datetime(local.year, local.month, 1, 2, tzinfo=paris).astimezone(dt.UTC)
    return start


class TestIndicators:
    async def test_effectors_coverage_and_reorientations_of_the_indre(self, client, auth):
        w = await world(client, auth)  # a site in Châteauroux, 46.8103, 1.6913
        other = await create_practitioner(client, auth("admin", []), territories=["36"])
        start = _four_hours_in_one_month()
        await make_slot(client, auth, w, start=start)
        await make_slot(client, auth, w, start=start + dt.timedelta(hours=1))
        body = {"practitioner_id": other["id"], "site_id": w.site["id"], "mode": "in_person",
                "start": (start + dt.timedelta(hours=2)).isoformat(),
                "end": (start + dt.timedelta(hours=2, minutes=20)).isoformat()}
        assert (await client.post("/v1/slots", json=body, headers=auth("admin", []))).status_code == 201
        slot = await make_slot(client, auth, w, start=start + dt.timedelta(hours=3))
        call = await make_call(client, auth)
        booking = (await client.post("/v1/bookings", json={"slot_id": slot, "call_id": call["id"]},
                                     headers=auth("operator", ["36"]))).json()
        await client.post(f"/v1/bookings/{booking['id']}/cancel", headers=auth("regulator", ["36"]))

        # From the call's month (now) to the slots' (the same, or the next one late on a month's last day).
        month = start.astimezone(ZoneInfo("Europe/Paris")).strftime("%Y-%m")
        report = await monthly(client, auth("analyst", ["36"]), first=this_month(), last=month)
        total = report["total"]
        assert total["slots"]["effectors_active"] == 2 and total["slots"]["published"] == 4
        assert total["calls_reoriented"] == 1
        postcodes, within = _expected("36", 46.8103, 1.6913)
        assert postcodes > 20 and 0 < within < postcodes
        assert total["coverage"] == {"postcodes": postcodes, "within_30_km": within, "share": within / postcodes}
        assert report["months"][-1]["coverage"] == total["coverage"]

    async def test_a_cpts_is_measured_over_the_postcodes_an_admin_gave_it(self, client, auth):
        code = (await create_cpts(client, auth("admin", []), "36-val-de-l-indre", parent="36"))["code"]
        w = await world(client, auth, territory=code)
        await make_slot(client, auth, w)
        month = _month()
        without = await monthly(client, auth("analyst", [code]), territory=code, first=month, last=month)
        assert without["total"]["coverage"] is None
        bad = await client.patch(f"/v1/territories/{code}", json={"postcodes": ["36000", "99999"]},
                                 headers=auth("admin", []))
        assert bad.status_code == 422 and bad.json()["field"] == "postcodes.1", bad.text
        # Châteauroux is at the site; Le Blanc (36300) is some 55 km away
        done = await client.patch(f"/v1/territories/{code}", json={"postcodes": ["36000", "36300"]},
                                  headers=auth("admin", []))
        assert done.status_code == 200 and done.json()["postcodes"] == ["36000", "36300"]
        report = await monthly(client, auth("analyst", [code]), territory=code, first=month, last=month)
        assert report["total"]["coverage"] == {"postcodes": 2, "within_30_km": 1, "share": 0.5}

    async def test_the_nation_has_no_coverage_figure(self, client, auth):
        month = _month()
        report = await monthly(client, auth("admin", []), territory="FR", first=month, last=month)
        assert report["total"]["coverage"] is None and report["total"]["calls_reoriented"] == 0
