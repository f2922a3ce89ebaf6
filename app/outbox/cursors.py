"""Readers of the transactional outbox that go through it in commit order, each under a cursor of its own
(the national-platform declarer, app/fhir/declare.py; the Hub Santé publisher, app/hub/publisher.py).

Events are read in the order their transactions became final — by transaction id up to the oldest one
still running (``pg_snapshot_xmin``), then by sequence — so an event that commits late is never skipped,
and the events of one appointment come in the order they happened. A cursor starts where the outbox
stands when the reader first runs, and moves only past what its reader settled."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

START = text("""INSERT INTO declaration_cursors (name, xid, seq)
                VALUES (:name, pg_snapshot_xmin(pg_current_snapshot()), 0) ON CONFLICT (name) DO NOTHING""")
# The appointment events after the cursor ``:name``, final ones only, ``:limit`` of them.
READY = text("""
    SELECT e.id, e.xid, e.seq, e.kind, CAST(e.payload->>'booking_id' AS uuid) AS booking_id
    FROM outbox_events e, declaration_cursors c
    WHERE c.name = :name AND (e.xid, e.seq) > (c.xid, c.seq)
      AND e.xid < pg_snapshot_xmin(pg_current_snapshot())
      AND e.kind IN ('booking.created', 'booking.cancelled', 'booking.outcome')
    ORDER BY e.xid, e.seq
    LIMIT :limit""")
MOVE = text("UPDATE declaration_cursors SET xid = :xid, seq = :seq, updated_at = now() WHERE name = :name")

ROUND_SECONDS = 20.0  # a round stops well before the idle-in-transaction timeout would end its transaction


class Deferred(Exception):
    """What ``handle`` raises to stop a round at this event: it is tried again next round."""


async def read_round(
    sessionmaker: async_sessionmaker[AsyncSession], *, name: str, lock: int, batch: int,
    rows: Callable[[AsyncSession, list[uuid.UUID]], Awaitable[Mapping[uuid.UUID, Any]]],
    handle: Callable[[AsyncSession, RowMapping, Any], Awaitable[None]],
) -> int:
    """One round of a reader: under its advisory lock (one reader of a name across every instance), the
    final events after its cursor, each given to ``handle`` with its booking's row (``rows``), the cursor
    moved past each in the same transaction; ``Deferred`` from ``handle`` stops the round there (what was
    settled before stays). How many events were settled."""
    async with sessionmaker() as session, session.begin():
        await session.execute(START, {"name": name})
    settled = 0
    async with sessionmaker() as session, session.begin():
        if not await session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": lock}):
            return 0  # another instance reads
        events = (await session.execute(READY, {"name": name, "limit": batch})).mappings().all()
        if not events:
            return 0
        booked = await rows(session, list({e["booking_id"] for e in events}))
        began = time.monotonic()
        for event in events:
            try:
                await handle(session, event, booked.get(event["booking_id"]))
            except Deferred:
                break
            await session.execute(MOVE, {"name": name, "xid": event["xid"], "seq": event["seq"]})
            settled += 1
            if time.monotonic() - began > ROUND_SECONDS:
                break
    return settled
