"""The slots published per territory as Prometheus gauges, counted in the database at scrape time: those of the
next 24 hours, and in how many of the last four weeks the same 24 hours (same weekdays, same hours) had some.
A territory at zero that usually has slots has lost its practitioners' agendas, or their publishing broke."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

from app.platform.scrape import gauges
from app.slots import repository

WEEKS = 4  # the weeks looked back at (repository._PUBLISHED_WINDOWS)


class _Published(Collector):
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def collect(self) -> Iterator[GaugeMetricFamily]:
        ahead: dict[str, int] = {}
        weeks: dict[str, int] = {}
        for row in self.rows:
            ahead.setdefault(row["territory_code"], 0)
            weeks.setdefault(row["territory_code"], 0)
            if row["week"] == 0:
                ahead[row["territory_code"]] = row["n"]
            elif row["n"] > 0:
                weeks[row["territory_code"]] += 1
        next_24h = GaugeMetricFamily("snp_slots_next_24h", "Slots published in the next 24 hours, per territory "
                                     "(that had some in the last four weeks or has some now)", labels=["territory"])
        usual = GaugeMetricFamily("snp_slots_same_hours_weeks",
                                  f"Of the last {WEEKS} weeks, how many had slots in the same 24 hours (same weekdays "
                                  "and hours) as the next 24 hours, per territory", labels=["territory"])
        for territory in sorted(ahead):
            next_24h.add_metric([territory], ahead[territory])
            usual.add_metric([territory], weeks[territory])
        yield next_24h
        yield usual


async def published_metrics(engine: AsyncEngine | None) -> bytes:
    """The published slots' gauges, read now (nothing when the database does not answer in time)."""
    return await gauges(engine, repository.published_windows, _Published, "slots")
