"""The Indre 2022 year, rebuilt call by call, loaded through the import and reported back exactly."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import statistics
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.factories import create_cpts
from tests.stats.helpers import monthly

REFERENCE = Path(__file__).resolve().parent / "data" / "indre-2022.json"
PARIS = ZoneInfo("Europe/Paris")
# Calls per month: a winter peak and a summer peak, summing to the published year.
MONTHS = [1562, 1371, 1420, 1398, 1441, 1355, 1508, 1560, 1380, 1402, 1395, 1440]
CPTS = ["36-chateauroux", "36-boischaut-nord", "36-mille-etangs", "36-boischaut-sud", "36-val-de-creuse",
        "36-issoudun"]
OTHER_REASONS = ["no_answer"] * 800 + ["redirected_15"] * 400 + ["redirected_ed"] * 144 + ["other"] * 100
TWO_KINDS = 300
URGENCES_SENT_ON = 150  # calls that declared the ED but were sent to the ED or the 15: not avoided


def reference() -> dict:
    return json.loads(REFERENCE.read_text())


def decision_lists(published: dict) -> list[str]:
    """One decisions string per call: 300 advice|prescription, the rest one kind each."""
    counts = {k: published[k]["count"] for k in ("advice", "slot", "prescription", "other")}
    lists = ["advice|prescription"] * TWO_KINDS
    lists += ["advice"] * (counts["advice"] - TWO_KINDS) + ["prescription"] * (counts["prescription"] - TWO_KINDS)
    lists += ["slot"] * counts["slot"]
    lists += [f"other:{reason}" for reason in OTHER_REASONS]
    assert len(OTHER_REASONS) == counts["other"]
    return lists


def intents(decisions: list[str], avoided: int, rng: random.Random) -> list[str]:
    """``urgences`` on exactly ``avoided`` calls not sent to the ED/15, and on some that were."""
    sent_on = [i for i, d in enumerate(decisions) if d in ("other:redirected_15", "other:redirected_ed")]
    kept = [i for i, d in enumerate(decisions) if d not in ("other:redirected_15", "other:redirected_ed")]
    chosen = set(rng.sample(kept, avoided)) | set(rng.sample(sent_on, URGENCES_SENT_ON))
    return ["urgences" if i in chosen else rng.choice(["medecin", "pharmacie", "rien", "inconnu"])
            for i in range(len(decisions))]


def received_instants(rng: random.Random) -> list[dt.datetime]:
    """Local instants in each month of 2022, some just after local midnight on the 1st."""
    instants = []
    for month, count in enumerate(MONTHS, start=1):
        days = (dt.date(2022 + month // 12, month % 12 + 1, 1) - dt.date(2022, month, 1)).days
        for n in range(count):
            if n < 5:  # 00:30 on the 1st in Paris is the previous UTC day
                local = dt.datetime(2022, month, 1, 0, 30, tzinfo=PARIS)
            else:
                local = dt.datetime(2022, month, rng.randint(1, days), rng.randint(6, 23), rng.randint(0, 59),
                                    tzinfo=PARIS)
            instants.append(local)
    return instants


def build_csv(published: dict) -> tuple[str, list[float]]:
    """The year as the import's CSV (instants written in UTC) and the callback delays in minutes."""
    rng = random.Random(2022)
    decisions = decision_lists(published)
    rng.shuffle(decisions)
    wanted_intents = intents(decisions, published_avoided(published), rng)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["external_id", "territory_code", "channel", "received_at", "priority", "intent_without_sas",
                     "first_callback_at", "decisions"])
    delays: list[float] = []
    for n, local in enumerate(received_instants(rng)):
        received = local.astimezone(dt.UTC)
        delay = rng.randint(3, 150)
        delays.append(float(delay))
        writer.writerow([
            f"indre-2022-{n:05d}", rng.choice(["36", *CPTS]), rng.choice(["15", "15", "15", "116117"]),
            received.isoformat(), rng.choice(["", "P2", "P3"]), wanted_intents[n],
            (received + dt.timedelta(minutes=delay)).isoformat(), decisions[n],
        ])
    return out.getvalue(), delays


def published_avoided(published: dict) -> int:
    return published["avoided_ed_visits_estimated"]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@pytest.mark.slow
class TestIndre2022:
    async def test_the_report_gives_back_every_published_figure(self, client, auth):
        ref = reference()
        published = ref["published"]
        assert sum(MONTHS) == published["calls_transferred_to_sas_ambulatoire"]
        admin = auth("admin")
        for code in CPTS:
            await create_cpts(client, admin, code)
        body, delays = build_csv(published)
        response = await client.post("/v1/calls/import", content=body.encode(),
                                     headers={**admin, "Content-Type": "text/csv"})
        assert response.status_code == 201, response.text[:2000]
        assert response.json()["imported"] == 17232 and response.json()["decisions"] == 17532

        report = await monthly(client, auth("analyst", ["36"]), ref["territory"]["code"], ref["period"]["from"],
                               ref["period"]["to"])
        total = report["total"]
        assert [m["calls"] for m in report["months"]] == MONTHS
        assert total["calls"] == published["calls_transferred_to_sas_ambulatoire"] == 17232
        for kind in ("advice", "slot", "prescription", "other"):
            assert total["decisions"][kind]["count"] == published[kind]["count"], kind
            assert round(total["decisions"][kind]["share"] * 100) == published[kind]["share_printed_percent"], kind
        assert sum(total["decisions"][k]["count"] for k in ("advice", "slot", "prescription", "other")) == 17532
        assert total["calls_with_several_decisions"] == 300
        assert total["calls_without_decision"] == 0
        assert total["monthly_average_calls"] == published["monthly_average_calls"] == 1436
        assert total["avoided_ed_visits"]["count"] == published["avoided_ed_visits_estimated"] == 2615
        assert total["avoided_ed_visits"]["method"] == "declared_intent"
        assert total["avoided_ed_visits"]["parameters"]["calls_with_that_intent"] == 2615 + URGENCES_SENT_ON
        assert total["decisions"]["other"]["by_reason"] == {
            "no_answer": 800, "redirected_15": 400, "redirected_ed": 144, "other": 100}
        assert sum(m["decisions"]["slot"]["count"] for m in report["months"]) == 6438
        assert sum(m["avoided_ed_visits"]["count"] for m in report["months"]) == 2615
        assert total["callback_delay"]["called_back"] == 17232
        assert total["callback_delay"]["median_minutes"] == pytest.approx(statistics.median(delays))
        assert total["callback_delay"]["p90_minutes"] == pytest.approx(percentile(delays, 0.9), abs=0.01)
        assert total["callback_delay"]["share_within_60_minutes"] == pytest.approx(
            sum(d <= 60 for d in delays) / len(delays))
        assert report["scope"] == sorted(["36", *CPTS])
