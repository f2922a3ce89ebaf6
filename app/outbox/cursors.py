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
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

START = text("""INSERT INTO declaration_cursors (name, xid, seq)
                VALUES (:name, pg_snapshot_xmin(pg_current_snapshot()), 0) ON CONFLICT (name) DO NOTHING""")
# The outbox events that tell an appointment (what the in-order readers read).
APPOINTMENT_KINDS = "('booking.created', 'booking.cancelled', 'booking.outcome')"
# The appointment events after the cursor ``:name``, final ones only, ``:limit`` of them.
READY = text(f"""
    SELECT e.id, e.xid, e.seq, e.kind, CAST(e.payload->>'booking_id' AS uuid) AS booking_id
    FROM outbox_events e, declaration_cursors c
    WHERE c.name = :name AND (e.xid, e.seq) > (c.xid, c.seq)
      AND e.xid < pg_snapshot_xmin(pg_current_snapshot())
      AND e.kind IN {APPOINTMENT_KINDS}
    ORDER BY e.xid, e.seq
    LIMIT :limit""")
# For /metrics, per reader that has started (its cursor exists): the appointment events it has not told yet,
# those after its cursor and those it holds, and how old the oldest is.
_UNTOLD = text(f"""
    SELECT c.name AS reader, count(u.created_at) AS n,
           coalesce(extract(epoch FROM now() - min(u.created_at)), 0) AS oldest_seconds
    FROM declaration_cursors c
    LEFT JOIN LATERAL (
        SELECT e.created_at FROM outbox_events e
        WHERE (e.xid, e.seq) > (c.xid, c.seq) AND e.kind IN {APPOINTMENT_KINDS}
        UNION ALL
        SELECT e.created_at FROM held_events h JOIN outbox_events e ON e.id = h.event_id WHERE h.reader = c.name
    ) AS u ON true
    GROUP BY c.name
    ORDER BY c.name""")
MOVE = text("UPDATE declaration_cursors SET xid = :xid, seq = :seq, updated_at = now() WHERE name = :name")

ROUND_SECONDS = 20.0  # a round stops well before the idle-in-transaction timeout would end its transaction


class Deferred(Exception):
    """What ``handle`` raises to stop a round at this event: it is tried again next round."""


class Held(Exception):
    """What ``handle`` raises for an event it cannot tell and must not drop: ``parked`` (who booked has no
    identifier the recipient accepts yet) or ``refused`` (the recipient refused it for good, ``status_code``).
    The event is kept in ``held_events`` and the cursor moves on: the other appointments never wait for it;
    the later events of the same appointment are held behind it, to keep their order."""

    def __init__(self, state: str, reason: str, status_code: int | None = None) -> None:
        super().__init__(reason)
        self.state, self.reason, self.status_code = state, reason, status_code


BEHIND = "after an earlier event of this appointment, held"
_HOLDING = text("SELECT DISTINCT booking_id FROM held_events WHERE reader = :name AND booking_id = ANY(:ids)")
_HOLD = text("""
    INSERT INTO held_events (reader, event_id, booking_id, kind, xid, seq, state, reason, status_code)
    VALUES (:name, :event_id, :booking_id, :kind, :xid, :seq, :state, :reason, :status_code)
    ON CONFLICT (reader, event_id) DO NOTHING""")


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
        ids = list({e["booking_id"] for e in events})
        booked = await rows(session, ids)
        holding = set((await session.scalars(_HOLDING, {"name": name, "ids": ids})).all())
        began = time.monotonic()
        for event in events:
            try:
                if event["booking_id"] in holding:
                    raise Held("behind", BEHIND)
                await handle(session, event, booked.get(event["booking_id"]))
            except Deferred:
                break
            except Held as held:
                await session.execute(_HOLD, {"name": name, "event_id": event["id"], "booking_id": event["booking_id"],
                                              "kind": event["kind"], "xid": event["xid"], "seq": event["seq"],
                                              "state": held.state, "reason": held.reason[:2000],
                                              "status_code": held.status_code})
                holding.add(event["booking_id"])
            await session.execute(MOVE, {"name": name, "xid": event["xid"], "seq": event["seq"]})
            settled += 1
            if time.monotonic() - began > ROUND_SECONDS:
                break
    return settled


# The first held event of each appointment that may go now: one behind an event since told, a refused one
# whose retry was asked for, a parked one whose booker's registry entry changed since it was last tried.
_RELEASABLE = text("""
    SELECT h.booking_id FROM (
        SELECT DISTINCT ON (booking_id) booking_id, state, checked_at, retry_requested_at
        FROM held_events WHERE reader = :name ORDER BY booking_id, xid, seq) h
    JOIN bookings b ON b.id = h.booking_id
    WHERE h.state = 'behind'
       OR (h.state = 'refused' AND h.retry_requested_at IS NOT NULL)
       OR (h.state = 'parked' AND EXISTS (SELECT 1 FROM users u WHERE u.subject = b.created_by
                                          AND u.updated_at > h.checked_at))
    LIMIT :limit""")
_HELD_OF = text("""
    SELECT event_id AS id, xid, seq, kind, booking_id FROM held_events
    WHERE reader = :name AND booking_id = ANY(:ids) ORDER BY booking_id, xid, seq""")
_TOLD = text("DELETE FROM held_events WHERE reader = :name AND event_id = :event_id")
_STILL_HELD = text("""
    UPDATE held_events SET state = :state, reason = :reason, status_code = :status_code, attempts = attempts + 1,
           checked_at = now(), retry_requested_at = NULL
    WHERE reader = :name AND event_id = :event_id""")


async def release_round(
    sessionmaker: async_sessionmaker[AsyncSession], *, name: str, lock: int, batch: int,
    rows: Callable[[AsyncSession, list[uuid.UUID]], Awaitable[Mapping[uuid.UUID, Any]]],
    handle: Callable[[AsyncSession, RowMapping, Any], Awaitable[None]],
) -> int:
    """The held events that may go now (``_RELEASABLE``), each appointment's in order, given to ``handle``
    again under the reader's lock: told, they leave ``held_events``; held again, they stay with the new
    reason (and the appointment's later ones behind them); ``Deferred`` stops the round. How many were told."""
    told = 0
    async with sessionmaker() as session, session.begin():
        if not await session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": lock}):
            return 0
        ids = list((await session.scalars(_RELEASABLE, {"name": name, "limit": batch})).all())
        if not ids:
            return 0
        booked = await rows(session, ids)
        stopped: set[uuid.UUID] = set()
        for event in (await session.execute(_HELD_OF, {"name": name, "ids": ids})).mappings().all():
            if event["booking_id"] in stopped:
                continue
            try:
                await handle(session, event, booked.get(event["booking_id"]))
            except Deferred:
                break
            except Held as held:
                await session.execute(_STILL_HELD, {"name": name, "event_id": event["id"], "state": held.state,
                                                    "reason": held.reason[:2000], "status_code": held.status_code})
                stopped.add(event["booking_id"])
                continue
            await session.execute(_TOLD, {"name": name, "event_id": event["id"]})
            told += 1
    return told


_RETRY = text("""
    UPDATE held_events SET retry_requested_at = now()
    WHERE reader = :name AND state = 'refused' AND (CAST(:booking_id AS uuid) IS NULL OR booking_id = :booking_id)""")


async def request_retry(session: AsyncSession, name: str, booking_id: uuid.UUID | None = None) -> int:
    """Ask for the refused events of reader ``name`` (of one appointment, or all) to be tried again at its next
    round, once what made them refused is fixed; how many."""
    result = await session.execute(_RETRY, {"name": name, "booking_id": booking_id})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def untold(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Per reader that has started: how many appointment events it has not told yet and the oldest's age."""
    return [dict(row) for row in (await conn.execute(_UNTOLD)).mappings()]
