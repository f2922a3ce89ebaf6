"""The retention purge on a schedule, inside the app: nobody has to remember ``snp purge``.

Every ``SNP_PURGE_INTERVAL_SECONDS`` each instance tries; the first to take the advisory lock purges
(calls and what copied them, ``calls.service.purge``), the others find it taken and skip that round,
so a set of instances purges once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.calls import service
from app.platform.periodic import every

PURGE_LOCK = 70070011  # advisory lock key of the scheduled purge


async def purge_once(sessionmaker: async_sessionmaker[AsyncSession], retention_days: int,
                     record_days: int) -> int | None:
    """Purge if no other instance is purging; how many calls were purged, or None when skipped."""
    async with sessionmaker() as session, session.begin():
        if not await session.scalar(select(func.pg_try_advisory_xact_lock(PURGE_LOCK))):
            return None
        result = await service.purge(session, None, days=retention_days, record_days=record_days)
        return result.purged


def start_in_background(
    sessionmaker: async_sessionmaker[AsyncSession], retention_days: int, interval_seconds: float, record_days: int,
) -> Callable[[], Awaitable[None]]:
    return every(interval_seconds, lambda: purge_once(sessionmaker, retention_days, record_days),
                 "calls.scheduled_purge")
