"""Prometheus metrics and the request log line, per route template (never per raw path); and the
webhook relay's state, counted in the database at scrape time (the same from every worker)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.logging import log
from app.notifications import repository

REQUESTS = Counter("snp_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "snp_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def _send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - start
            REQUESTS.labels(scope["method"], template, str(status)).inc()
            LATENCY.labels(scope["method"], template).observe(elapsed)
            # The route template, never the raw path or query: no identifier of a person in logs.
            log.info("http.request", method=scope["method"], route=template, status=status,
                     ms=round(elapsed * 1000, 2))


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


async def metrics_response(engine: Any = None) -> Response:
    return Response(generate_latest() + await relay_metrics(engine), media_type=CONTENT_TYPE_LATEST)
