"""Every query of the patient's messages: what the reader needs of a booking, the queueing, the sender's claim
and records, what a call shows of its messages, and the gauges.

The database is the clock: the queueing and the sender read "now" as ``NOW``, PostgreSQL's ``now()`` moved by
``:clock`` seconds (``SNP_NOTICE_CLOCK_OFFSET_SECONDS``, 0 but in tests and rehearsals), so that what is due later
(a reminder) can be brought due by moving one clock, through the same statements."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

NOW = "(now() + make_interval(secs => :clock))"

# What the reader needs of each booking an event names: whether and how its patient wants to be told, whether
# the appointment is an agenda's (its software tells the patient), and whether it replaced another booking of
# its call or was replaced (a change of slot: one statement cancels the one and books the other, at one now()).
_BOOKINGS = text("""
    SELECT b.id, b.status, b.call_id, b.created_at AS booked_at, s.start_at, c.notify, t.timezone,
           EXISTS (SELECT 1 FROM declared_appointments d WHERE d.booking_id = b.id) AS declared,
           (SELECT r.id FROM bookings r WHERE r.call_id = b.call_id AND r.id <> b.id AND r.status = 'cancelled'
                                          AND r.cancelled_at = b.created_at LIMIT 1) AS replaces,
           b.status = 'cancelled' AND EXISTS (SELECT 1 FROM bookings r WHERE r.call_id = b.call_id
                                              AND r.id <> b.id AND r.created_at = b.cancelled_at) AS replaced
    FROM bookings b JOIN slots s ON s.id = b.slot_id JOIN calls c ON c.id = b.call_id
    JOIN territories t ON t.code = s.territory_code
    WHERE b.id = ANY(:ids)""")


async def bookings(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, RowMapping]:
    return {row["id"]: row for row in (await session.execute(_BOOKINGS, {"ids": ids})).mappings()}


_QUEUE = text(f"""
    INSERT INTO notices (event_id, booking_id, call_id, kind, channel, not_before, next_attempt_at, give_up_at)
    SELECT :event_id, :booking_id, :call_id, :kind, ch, CAST(:due_at AS timestamptz),
           coalesce(CAST(:due_at AS timestamptz), {NOW}),
           coalesce(CAST(:give_up_at AS timestamptz), least({NOW} + make_interval(secs => :give_up),
                                       greatest(:start_at, {NOW} + interval '1 minute')))
    FROM unnest(CAST(:channels AS text[])) AS ch
    ON CONFLICT (event_id, kind, channel) DO NOTHING""")


async def queue(session: AsyncSession, *, event_id: uuid.UUID, booking_id: uuid.UUID, call_id: uuid.UUID,
                kind: str, channels: list[str], give_up_seconds: float, start_at: Any, clock: float,
                due_at: Any = None, give_up_at: Any = None) -> None:
    """Queue one message per channel for an outbox event (once, however often the event is read): due now, or
    at ``due_at`` (a reminder, given up at ``give_up_at``)."""
    await session.execute(_QUEUE, {"event_id": event_id, "booking_id": booking_id, "call_id": call_id, "kind": kind,
                                   "channels": channels, "give_up": give_up_seconds, "start_at": start_at,
                                   "clock": clock, "due_at": due_at, "give_up_at": give_up_at})


_CONFIRMATIONS = text("""
    SELECT channel, state FROM notices WHERE booking_id = :booking_id AND kind IN ('confirmation', 'moved')
    ORDER BY seq""")
_WITHDRAW_PENDING = text("""
    UPDATE notices SET state = 'withdrawn', last_error = :why
    WHERE booking_id = :booking_id AND kind = ANY(:kinds) AND state = 'pending'
    RETURNING id""")
# The messages of a call still to send on a channel the patient no longer wants (a withdrawn consent).
_WITHDRAW_UNWANTED = text("""
    UPDATE notices SET state = 'withdrawn', last_error = 'the patient no longer wants to be told on this channel'
    WHERE call_id = :call_id AND state = 'pending' AND NOT (:notify = 'both' OR channel = :notify)""")
_PENDING_REMINDERS = text("""
    SELECT count(*) FROM notices WHERE booking_id = :booking_id AND kind = 'reminder' AND state = 'pending'""")


async def confirmations(session: AsyncSession, booking_id: uuid.UUID) -> list[RowMapping]:
    return list((await session.execute(_CONFIRMATIONS, {"booking_id": booking_id})).mappings())


async def withdraw_pending(session: AsyncSession, booking_id: uuid.UUID, kinds: list[str], why: str) -> int:
    """The booking's messages of these kinds not sent yet, withdrawn; how many."""
    return len((await session.execute(_WITHDRAW_PENDING, {"booking_id": booking_id, "kinds": kinds, "why": why}))
               .all())


async def withdraw_unwanted(session: AsyncSession, call_id: uuid.UUID, notify: str) -> None:
    """The call's messages not sent yet on a channel ``notify`` (sms, email, both, none) no longer names."""
    await session.execute(_WITHDRAW_UNWANTED, {"call_id": call_id, "notify": notify})


async def pending_reminders(session: AsyncSession, booking_id: uuid.UUID) -> int:
    return int((await session.execute(_PENDING_REMINDERS, {"booking_id": booking_id})).scalar_one())


# The sender's claim: the due pending messages, each the first pending one of its booking and channel (a
# booking's messages go in order), leased past the round so that no other sender takes them meanwhile.
_CLAIM = text(f"""
    WITH due AS (
        SELECT n.id FROM notices n
        WHERE n.state = 'pending' AND n.next_attempt_at <= {NOW}
          AND NOT EXISTS (SELECT 1 FROM notices e WHERE e.booking_id = n.booking_id AND e.channel = n.channel
                          AND e.state = 'pending' AND e.seq < n.seq)
        ORDER BY n.next_attempt_at, n.seq
        LIMIT :batch
        FOR UPDATE SKIP LOCKED)
    UPDATE notices n SET next_attempt_at = {NOW} + make_interval(secs => :lease)
    FROM due WHERE n.id = due.id
    RETURNING n.id, n.seq, n.kind, n.channel, n.booking_id, n.call_id, n.attempts, n.give_up_at, {NOW} AS clock""")

# What a message says, read when it is sent: the appointment, the doctor, the place, the territory's time zone,
# and the patient's contact as the call holds it now (sealed; a purge or a withdrawn consent is seen here).
_CONTEXT = text("""
    SELECT b.id, b.status, s.start_at, s.end_at, s.mode, s.audience, si.name AS site_name, si.address,
           si.postcode, p.given_name, p.family_name, t.timezone, t.name AS territory_name,
           c.notify, c.patient_phone, c.patient_email, c.patient_birth_year, c.purged_at
    FROM bookings b JOIN slots s ON s.id = b.slot_id JOIN sites si ON si.id = s.site_id
    JOIN practitioners p ON p.id = s.practitioner_id JOIN territories t ON t.code = s.territory_code
    JOIN calls c ON c.id = b.call_id
    WHERE b.id = ANY(:ids)""")


async def claim(session: AsyncSession, batch: int, lease_seconds: float, clock: float) -> list[RowMapping]:
    """The due messages, each with ``clock``: the time it was claimed at, by the messages' clock."""
    rows = (await session.execute(_CLAIM, {"batch": batch, "lease": lease_seconds, "clock": clock})).mappings().all()
    return sorted(rows, key=lambda r: r["seq"])


async def contexts(session: AsyncSession, booking_ids: list[uuid.UUID]) -> dict[uuid.UUID, RowMapping]:
    return {row["id"]: row for row in (await session.execute(_CONTEXT, {"ids": booking_ids})).mappings()}


# Each outcome is written only over a message still pending: a withdrawal (the patient's opt-out, a cancellation)
# that came first is never overwritten.
_SENT = text(f"UPDATE notices SET state = 'sent', sent_at = {NOW}, attempts = attempts + 1, last_error = NULL "
             "WHERE id = :id AND state = 'pending'")
_WITHDRAWN = text("UPDATE notices SET state = 'withdrawn', last_error = :why WHERE id = :id AND state = 'pending'")
_RELEASED = text(f"UPDATE notices SET next_attempt_at = {NOW} WHERE id = :id AND state = 'pending'")
# A failed attempt: tried again after the backoff, or given up past its time.
_FAILED = text(f"""
    UPDATE notices SET attempts = attempts + 1, last_error = :why,
        state = CASE WHEN {NOW} >= give_up_at THEN 'failed' ELSE 'pending' END,
        failed_at = CASE WHEN {NOW} >= give_up_at THEN {NOW} END,
        next_attempt_at = {NOW} + make_interval(secs => least(:base * power(2, attempts), :cap))
    WHERE id = :id AND state = 'pending'
    RETURNING state""")
# Given up without an attempt: a reminder whose time has passed (the night came, or the appointment's start).
_TOO_LATE = text(f"UPDATE notices SET state = 'failed', failed_at = {NOW}, last_error = :why "
                 "WHERE id = :id AND state = 'pending'")
# The message, locked while it is sent and recorded, if it is still to send: a withdrawal waits for it, and a
# message withdrawn (or sent by another instance) meanwhile is left alone.
_STILL_PENDING = text("SELECT 1 FROM notices WHERE id = :id AND state = 'pending' FOR UPDATE")


async def still_pending(session: AsyncSession, notice_id: uuid.UUID) -> bool:
    return (await session.execute(_STILL_PENDING, {"id": notice_id})).first() is not None


async def sent(session: AsyncSession, notice_id: uuid.UUID, clock: float) -> None:
    await session.execute(_SENT, {"id": notice_id, "clock": clock})


async def withdrawn(session: AsyncSession, notice_id: uuid.UUID, why: str) -> None:
    await session.execute(_WITHDRAWN, {"id": notice_id, "why": why})


async def released(session: AsyncSession, notice_id: uuid.UUID, clock: float) -> None:
    await session.execute(_RELEASED, {"id": notice_id, "clock": clock})


async def failed(session: AsyncSession, notice_id: uuid.UUID, why: str, base: float, cap: float, clock: float) -> str:
    state = (await session.execute(_FAILED, {"id": notice_id, "why": why[:500], "base": base, "cap": cap,
                                             "clock": clock})).scalar_one_or_none()
    return "withdrawn" if state is None else str(state)


async def too_late(session: AsyncSession, notice_id: uuid.UUID, why: str, clock: float) -> None:
    await session.execute(_TOO_LATE, {"id": notice_id, "why": why, "clock": clock})


_OF_CALL = text("""
    SELECT id, booking_id, kind, channel, state, attempts, created_at,
           CASE WHEN state = 'pending' THEN next_attempt_at END AS due_at, sent_at, failed_at, last_error
    FROM notices WHERE call_id = :call_id ORDER BY seq""")


async def of_call(session: AsyncSession, call_id: uuid.UUID) -> list[RowMapping]:
    return list((await session.execute(_OF_CALL, {"call_id": call_id})).mappings())


# A reminder waiting for its time is not counted (nor aged) until its time has come.
_COUNTS = text("""
    SELECT s.state, ch.channel, count(n.id) AS n,
           coalesce(extract(epoch FROM now() - min(coalesce(n.not_before, n.created_at))), 0) AS oldest_seconds
    FROM unnest(ARRAY['pending', 'failed']) AS s(state) CROSS JOIN unnest(ARRAY['sms', 'email']) AS ch(channel)
    LEFT JOIN notices n ON n.state = s.state AND n.channel = ch.channel
                       AND (n.not_before IS NULL OR n.not_before <= now())
    GROUP BY s.state, ch.channel ORDER BY s.state, ch.channel""")


async def counts(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Per state (pending, failed) and channel: how many messages, and the oldest's age."""
    return [dict(row) for row in (await conn.execute(_COUNTS)).mappings()]
