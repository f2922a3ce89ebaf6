"""Queries of the notifications domain that other domains' statements compose."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import cast, delete, func, select, update
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.bookings.models import Booking
from app.calls.models import Call
from app.notifications.models import OutboxEvent, WebhookReceiver
from app.platform.database import sql
from app.practitioners.models import Practitioner

# What a booking event keeps of booking ``b`` of slot ``s`` at site ``si`` for call ``c``: when, where,
# how, why, and the patient — his identity as the call holds it, sealed (app/identity/crypto.py), with birth year,
# age and sex. What the effector is shown of it (initials, age and sex always; for a home visit also the
# name, address and phone; for a teleconsultation the phone) is decided when the event is read
# (app/calls/sealing.present), after opening. The purge removes the whole ``patient`` object (and the
# reason) after the retention period.
BOOKING_PAYLOAD = """jsonb_build_object(
            'booking_id', b.id, 'status', b.status, 'slot_id', s.id, 'start', s.start_at, 'end', s.end_at,
            'mode', s.mode, 'territory_code', s.territory_code,
            'site', jsonb_build_object('id', si.id, 'name', si.name, 'address', si.address, 'postcode', si.postcode),
            'call', jsonb_build_object('channel', c.channel, 'reason', c.reason),
            'patient', jsonb_strip_nulls(jsonb_build_object(
                'birth_year', c.patient_birth_year, 'sex', c.patient_sex,
                'age', CAST(EXTRACT(year FROM now()) AS integer) - c.patient_birth_year,
                'family_name', c.patient_family_name, 'given_name', c.patient_given_name,
                'address', c.patient_address, 'phone', c.patient_phone)),
            'booked_at', b.created_at, 'cancelled_at', b.cancelled_at)"""


def insert_booking_events(*sources: tuple[str, str]) -> str:
    """One INSERT of booking events, in the order of ``sources``: each a (kind, FROM clause naming ``b``,
    ``s``, ``si`` and ``c``). The effector's feed and webhook then give them in the order things happened."""
    parts = [f"SELECT {n} AS n, s.practitioner_id, {kind} AS kind, {BOOKING_PAYLOAD} AS payload {source}"
             for n, (kind, source) in enumerate(sources)]
    return ("INSERT INTO outbox_events (practitioner_id, kind, payload) "
            f"SELECT e.practitioner_id, e.kind, e.payload FROM ({' UNION ALL '.join(parts)}) e ORDER BY e.n")


# The event ``:kind`` of the booking ``:booking_id`` for its slot's effector.
_BOOKING_EVENT = insert_booking_events((":kind", """FROM bookings b
    JOIN slots s ON s.id = b.slot_id
    JOIN sites si ON si.id = s.site_id
    JOIN calls c ON c.id = b.call_id
    WHERE b.id = :booking_id"""))


async def add_booking_event(session: AsyncSession, booking_id: uuid.UUID, kind: str) -> None:
    """Tell the slot's effector what became of a booking (``booking.cancelled``...), in the outbox."""
    await session.execute(sql(_BOOKING_EVENT), {"booking_id": booking_id, "kind": kind})


async def purge_booking_events(session: AsyncSession, received_before: dt.datetime) -> int:
    """Empty what booking events copied of the patient (initials, birth year, sex) and of the call's
    reason, for the calls received before ``received_before`` (the calls' own purge); how many."""
    stmt = (
        update(OutboxEvent)
        .where(OutboxEvent.payload.has_key("patient"),
               cast(OutboxEvent.payload["booking_id"].astext, PG_UUID(as_uuid=True)) == Booking.id,
               Booking.call_id == Call.id, Call.received_at < received_before)
        .values(payload=OutboxEvent.payload.op("-")("patient").op("||")(
            func.jsonb_build_object("call", OutboxEvent.payload["call"].op("-")("reason"), "purged", True)))
    )
    result = await session.execute(stmt, execution_options={"synchronize_session": False})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def receiver_states(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """The webhook state of each of ``ids`` that registered one: the receiver's row (absent: never
    failed) and how many of its events wait for delivery."""
    if not ids:
        return {}
    pending = (select(func.count()).where(OutboxEvent.practitioner_id == Practitioner.id,
                                          OutboxEvent.delivered_at.is_(None))
               .scalar_subquery().label("pending_events"))
    stmt = (select(Practitioner.id, WebhookReceiver.consecutive_failures, WebhookReceiver.last_error_kind,
                   WebhookReceiver.last_error, WebhookReceiver.last_failure_at, WebhookReceiver.last_delivered_at,
                   WebhookReceiver.next_attempt_at, pending)
            .outerjoin(WebhookReceiver, WebhookReceiver.practitioner_id == Practitioner.id)
            .where(Practitioner.id.in_(ids), Practitioner.webhook_url.is_not(None)))
    return {row["id"]: dict(row) for row in (await session.execute(stmt)).mappings()}


async def reset_receiver(session: AsyncSession, practitioner_id: uuid.UUID) -> None:
    """A webhook (re)registered starts afresh: no backoff left from the old one, its waiting events due now."""
    await session.execute(delete(WebhookReceiver).where(WebhookReceiver.practitioner_id == practitioner_id))
    await session.execute(update(OutboxEvent)
                          .where(OutboxEvent.practitioner_id == practitioner_id, OutboxEvent.delivered_at.is_(None),
                                 OutboxEvent.next_attempt_at > func.now())
                          .values(next_attempt_at=func.now()))


# The relay's state across every receiver, for /metrics: how many webhooks, how many failing (their last
# tries failed), how many backing off now, and the events they have yet to acknowledge, with the oldest's age.
RELAY_COUNTS = """
    SELECT count(*) AS receivers,
           count(*) FILTER (WHERE r.consecutive_failures > 0) AS failing,
           count(*) FILTER (WHERE r.next_attempt_at > now()) AS backing_off,
           coalesce(sum(e.pending), 0) AS pending,
           coalesce(extract(epoch FROM now() - min(e.oldest)), 0) AS oldest_pending_seconds
    FROM practitioners p
    LEFT JOIN webhook_receivers r ON r.practitioner_id = p.id
    CROSS JOIN LATERAL (
        SELECT count(*) AS pending, min(d.created_at) AS oldest
        FROM outbox_events d WHERE d.practitioner_id = p.id AND d.delivered_at IS NULL
    ) AS e
    WHERE p.webhook_url IS NOT NULL"""


async def relay_counts(conn: AsyncConnection) -> dict[str, float]:
    """The relay's counts as the database holds them now (every worker reports the same)."""
    row = (await conn.execute(sql(RELAY_COUNTS))).mappings().one()
    return {name: float(value) for name, value in row.items()}
