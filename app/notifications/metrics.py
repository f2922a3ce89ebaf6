"""The webhook relay's state as Prometheus gauges, counted in the database at scrape time (no
per-practitioner label: counts across receivers)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

from app.notifications import repository
from app.platform.logging import log

# Each relay count: its metric and help text. No per-practitioner label: a count across receivers.
RELAY_GAUGES = {
    "receivers": ("snp_webhook_receivers", "Practitioners with a registered webhook"),
    "failing": ("snp_webhook_receivers_failing", "Webhooks whose last tries failed (consecutive failures > 0)"),
    "backing_off": ("snp_webhook_receivers_backing_off", "Webhooks the relay leaves alone until their next attempt"),
    "pending": ("snp_webhook_events_pending", "Events not yet acknowledged by a registered webhook"),
    "oldest_pending_seconds": ("snp_webhook_oldest_pending_seconds",
                               "Age of the oldest event not yet acknowledged by a registered webhook"),
}
SCRAPE_DB_SECONDS = 2.0


class _Counts(Collector):
    def __init__(self, counts: dict[str, float]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for key, (name, documentation) in RELAY_GAUGES.items():
            yield GaugeMetricFamily(name, documentation, value=self.counts[key])


async def relay_metrics(engine: AsyncEngine | None) -> bytes:
    """The relay's gauges, read now; nothing (and a log line) when the database does not answer in time:
    the request metrics are served anyway."""
    if engine is None:
        return b""
    try:
        async with asyncio.timeout(SCRAPE_DB_SECONDS), engine.connect() as conn:
            counts = await repository.relay_counts(conn)
    except Exception as exc:  # noqa: BLE001 - a scrape outlives an unreachable database
        log.warning("metrics.relay_unavailable", error=type(exc).__name__)
        return b""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Counts(counts))
    return generate_latest(registry)


