"""The MT waiting list's retention purge on a schedule, beside the calls' (app/calls/retention.py): a patient's
identity goes ``SNP_MT_RETENTION_DAYS`` after his request was found or closed, never while it waits. The first
instance to take the advisory lock purges, the others skip that round."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.mt import service
from app.platform.periodic import every

PURGE_LOCK = 70070012  # advisory lock key of the MT purge (the calls' is 70070011)


async def purge_once(sessionmaker: async_sessionmaker[AsyncSession], days: int) -> int | None:
    """Purge if no other instance is purging; how many requests were purged, or None when skipped."""
    async with sessionmaker() as session, session.begin():
        if not await session.scalar(select(func.pg_try_advisory_xact_lock(PURGE_LOCK))):
            return None
        return await service.purge(session, days=days)


def start_in_background(
    sessionmaker: async_sessionmaker[AsyncSession], days: int, interval_seconds: float,
) -> Callable[[], Awaitable[None]]:
    return every(interval_seconds, lambda: purge_once(sessionmaker, days), "mt.scheduled_purge")
