"""The Indre 2022 year, rebuilt call by call, loaded through the import and reported back exactly."""

from __future__ import annotations

import statistics

import pytest

from tests.stats.helpers import (
    CPTS,
    MONTHS,
    URGENCES_SENT_ON,
    build_csv,
    monthly,
    reference,
)
from tests.support.factories import create_cpts


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
