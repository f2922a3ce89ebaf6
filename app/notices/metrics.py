"""The patient's messages as Prometheus gauges, counted in the database at scrape time: per channel, those
waiting to be sent (and the oldest's age; a reminder from its time on), and those given up (``failed``, also
shown on their call)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

from app.notices import repository
from app.platform.scrape import gauges


class _Notices(Collector):
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def collect(self) -> Iterator[GaugeMetricFamily]:
        count = GaugeMetricFamily("snp_patient_messages", "Messages to patients (appointment confirmations and "
                                  "cancellations) by state: pending (not delivered yet), failed (given up)",
                                  labels=["state", "channel"])
        oldest = GaugeMetricFamily("snp_patient_messages_oldest_seconds", "Age of the oldest message to a patient "
                                   "in this state (0: none)", labels=["state", "channel"])
        for row in self.rows:
            count.add_metric([row["state"], row["channel"]], row["n"])
            oldest.add_metric([row["state"], row["channel"]], float(row["oldest_seconds"]))
        yield count
        yield oldest


async def notice_metrics(engine: AsyncEngine | None) -> bytes:
    return await gauges(engine, repository.counts, _Notices, "notices")
