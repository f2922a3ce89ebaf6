"""Folds the national rollup's deltas into its cells every few minutes, as long as the app runs (and drops the
report changes a later one supersedes: app/stats/cache.py).

The report is exact whether or not this runs (it reads cells and deltas together); folding keeps
the deltas few, so the national report stays fast. Several workers folding at once is harmless.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.platform.logging import log
from app.platform.periodic import every
from app.stats.cache import KEEP_SECONDS
from app.stats.repository import compact_rollup, drop_superseded_changes

CHUNK = 50_000  # deltas per transaction: a backlog of years (an import) is folded in short steps


async def fold_once(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Fold every pending delta, a chunk per transaction; how many were folded."""
    folded = 0
    while True:
        async with sessionmaker() as session, session.begin():
            step = await compact_rollup(session, CHUNK)
        folded += step
        if step < CHUNK:
            break
    async with sessionmaker() as session, session.begin():
        await drop_superseded_changes(session, 2 * KEEP_SECONDS)
    if folded:
        log.info("stats.rollup_compacted", folded=folded)
    return folded


def start_in_background(
    sessionmaker: async_sessionmaker[AsyncSession], interval_seconds: float
) -> Callable[[], Awaitable[None]]:
    """Start folding as a task of the running loop; returns the coroutine function that stops it."""
    return every(interval_seconds, lambda: fold_once(sessionmaker), "stats.rollup_compaction")
