"""Folds the national rollup's deltas into its cells every few minutes, as long as the app runs.

The report is exact whether or not this runs (it reads cells and deltas together); folding keeps
the deltas few, so the national report stays fast. Several workers folding at once is harmless.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.logging import log
from app.stats.repository import compact_rollup


async def run(sessionmaker: async_sessionmaker[AsyncSession], interval_seconds: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            async with sessionmaker() as session, session.begin():
                folded = await compact_rollup(session)
            if folded:
                log.info("stats.rollup_compacted", folded=folded)
        except Exception as exc:  # noqa: BLE001 - the next round tries again
            log.error("stats.rollup_compaction_failed", error=type(exc).__name__)
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval_seconds)
        except TimeoutError:
            pass


def start_in_background(
    sessionmaker: async_sessionmaker[AsyncSession], interval_seconds: float
) -> Callable[[], Awaitable[None]]:
    """Start folding as a task of the running loop; returns the coroutine function that stops it."""
    stop = asyncio.Event()
    task = asyncio.create_task(run(sessionmaker, interval_seconds, stop), name="snp-stats-compactor")

    async def _stop() -> None:
        stop.set()
        await asyncio.wait_for(task, timeout=30)

    return _stop
