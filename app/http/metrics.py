"""Prometheus metrics and the request log line, per route template (never per raw path); and the gauges
the domains count in the database at scrape time (the same from every worker)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import Response
from starlette.types import Scope

from app.platform.logging import log

REQUESTS = Counter("snp_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "snp_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def observe(scope: Scope, status: int, elapsed: float) -> None:
    """Count a request under its route's template, and write its log line."""
    route = scope.get("route")
    template = getattr(route, "path", None) or "unmatched"
    REQUESTS.labels(scope["method"], template, str(status)).inc()
    LATENCY.labels(scope["method"], template).observe(elapsed)
    # The route template, never the raw path or query: no identifier of a person in logs.
    log.info("http.request", method=scope["method"], route=template, status=status, ms=round(elapsed * 1000, 2))


# Gauges counted in the database at scrape time (the same from every worker), each a domain's: given by
# main, so that the edge imports no domain.
Scraped = Callable[[AsyncEngine | None], Awaitable[bytes]]


SCRAPE_CONNECTIONS = 2


async def metrics_response(engine: AsyncEngine | None = None, scraped: Sequence[Scraped] = ()) -> Response:
    # Two at a time: each is bounded by its own short timeout, and a scrape never takes more than two of the
    # pool's connections from the requests of the people on shift.
    gate = asyncio.Semaphore(SCRAPE_CONNECTIONS)

    async def gated(one: Scraped) -> bytes:
        async with gate:
            return await one(engine)

    extra = b"".join(await asyncio.gather(*(gated(one) for one in scraped)))
    return Response(generate_latest() + extra, media_type=CONTENT_TYPE_LATEST)
