"""The webhook relay's state as Prometheus gauges, counted in the database at scrape time (no
per-practitioner label: counts across receivers)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

from app.notifications import repository
from app.platform.scrape import gauges

# Each relay count: its metric and help text. No per-practitioner label: a count across receivers.
RELAY_GAUGES = {
    "receivers": ("snp_webhook_receivers", "Practitioners with a registered webhook"),
    "failing": ("snp_webhook_receivers_failing", "Webhooks whose last tries failed (consecutive failures > 0)"),
    "backing_off": ("snp_webhook_receivers_backing_off", "Webhooks the relay leaves alone until their next attempt"),
    "pending": ("snp_webhook_events_pending", "Events not yet acknowledged by a registered webhook"),
    "oldest_pending_seconds": ("snp_webhook_oldest_pending_seconds",
                               "Age of the oldest event not yet acknowledged by a registered webhook"),
}


class _Counts(Collector):
    def __init__(self, counts: dict[str, float]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for key, (name, documentation) in RELAY_GAUGES.items():
            yield GaugeMetricFamily(name, documentation, value=self.counts[key])


async def relay_metrics(engine: AsyncEngine | None) -> bytes:
    """The relay's gauges, read now (nothing when the database does not answer in time: the request metrics
    are served anyway)."""
    return await gauges(engine, repository.relay_counts, _Counts, "relay")


