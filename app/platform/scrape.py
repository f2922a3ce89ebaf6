"""Gauges counted in the database at scrape time: read under a short timeout, and nothing (and a log line) when
the database does not answer in time, so that a scrape outlives an unreachable database and the request
metrics are served anyway."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.platform.logging import log

SCRAPE_DB_SECONDS = 2.0
Counts = TypeVar("Counts")


async def gauges(engine: AsyncEngine | None, read: Callable[[AsyncConnection], Awaitable[Counts]],
                 collector: Callable[[Counts], Collector], what: str) -> bytes:
    """``read``'s counts, rendered by ``collector`` in Prometheus's text format; ``what`` names them in the log."""
    if engine is None:
        return b""
    try:
        async with asyncio.timeout(SCRAPE_DB_SECONDS), engine.connect() as conn:
            counts = await read(conn)
    except Exception as exc:  # noqa: BLE001 - a scrape outlives an unreachable database
        log.warning(f"metrics.{what}_unavailable", error=type(exc).__name__)
        return b""
    return render(collector(counts))


def render(collector: Collector) -> bytes:
    """``collector``'s families in Prometheus's text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry)
