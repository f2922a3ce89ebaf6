"""The appointment events not yet told as Prometheus gauges, counted in the database at scrape time: the held
ones, one series per reader (``ptf``: the national platform, ``hub``: the SAMUs) and state (parked, refused,
behind); and per reader that has started, every event not told yet (after its cursor, or held) and the oldest's
age."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

from app.outbox import cursors, held
from app.platform.scrape import gauges


class _Held(Collector):
    def __init__(self, counts: list[dict[str, Any]]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("snp_held_appointment_events",
                                   "Appointment events not told to the platform or the SAMU, kept: parked (who "
                                   "booked has no identifier yet), refused (4xx, until retried), behind (after "
                                   "one of those)", labels=["reader", "state"])
        found = {(c["reader"], c["state"]): c["n"] for c in self.counts}
        for reader in held.READERS:
            for state in held.STATES:
                family.add_metric([reader, state], found.get((reader, state), 0))
        yield family


async def held_metrics(engine: AsyncEngine | None) -> bytes:
    """The held events' gauges, read now (nothing when the database does not answer in time)."""
    return await gauges(engine, held.counts, _Held, "held")


class _Untold(Collector):
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def collect(self) -> Iterator[GaugeMetricFamily]:
        count = GaugeMetricFamily("snp_appointment_events_untold",
                                  "Appointment events a reader that has started has not told yet (after its cursor, "
                                  "or held)", labels=["reader"])
        oldest = GaugeMetricFamily("snp_appointment_events_untold_oldest_seconds",
                                   "Age of the oldest appointment event a reader has not told yet (0: none)",
                                   labels=["reader"])
        for row in self.rows:
            count.add_metric([row["reader"]], row["n"])
            oldest.add_metric([row["reader"]], float(row["oldest_seconds"]))
        yield count
        yield oldest


async def untold_metrics(engine: AsyncEngine | None) -> bytes:
    """The events not told yet, per reader, read now (nothing when the database does not answer in time)."""
    return await gauges(engine, cursors.untold, _Untold, "untold")
