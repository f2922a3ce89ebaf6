"""The calls queue as Prometheus gauges, counted in the database at scrape time (the same from every worker):
per territory, the calls past their callback target by priority, and those nobody has taken. Territory codes
and counts only: nothing of a patient in a label."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

from app.calls import repository
from app.calls.models import PRIORITIES
from app.platform.scrape import gauges


class _Queue(Collector):
    def __init__(self, counts: dict[str, list[Any]]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        late = GaugeMetricFamily("snp_calls_overdue",
                                 "Calls of the live queue not called back and past their callback target, per "
                                 "territory and priority (a call without one: P3's target)",
                                 labels=["territory", "priority"])
        found = {(r["territory_code"], r["priority"]): r["n"] for r in self.counts["late"]}
        # Every priority of each territory with open calls: a series at 0, not absent, when none is late.
        for territory in sorted({t for t, _ in found}):
            for priority in PRIORITIES:
                late.add_metric([territory, priority], found.get((territory, priority), 0))
        yield late
        untaken = GaugeMetricFamily("snp_calls_untaken", "Open calls nobody has taken (waiting or to re-orient, "
                                    "assigned to no regulator), per territory", labels=["territory"])
        oldest = GaugeMetricFamily("snp_calls_untaken_oldest_seconds",
                                   "How long the oldest open call nobody has taken has waited, per territory",
                                   labels=["territory"])
        for row in self.counts["untaken"]:
            untaken.add_metric([row["territory_code"]], row["n"])
            oldest.add_metric([row["territory_code"]], float(row["oldest_seconds"]))
        yield untaken
        yield oldest


async def queue_metrics(engine: AsyncEngine | None) -> bytes:
    """The queue's gauges, read now (nothing when the database does not answer in time)."""
    return await gauges(engine, repository.queue_gauges, _Queue, "calls")
