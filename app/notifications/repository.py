"""Queries of the notifications domain that other domains' statements compose."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import cast, func, update
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.ext.asyncio import AsyncSession

from app.bookings.models import Booking
from app.calls.models import Call
from app.database import sql
from app.notifications.models import OutboxEvent

# What the effector is told of booking ``b`` of slot ``s`` at site ``si`` for call ``c``: when, where,
# how, why, and who is coming as initials, birth year and sex (enough to recognise the patient, never
# the name or the phone number).
BOOKING_PAYLOAD = """jsonb_build_object(
            'booking_id', b.id, 'status', b.status, 'slot_id', s.id, 'start', s.start_at, 'end', s.end_at,
            'mode', s.mode, 'territory_code', s.territory_code,
            'site', jsonb_build_object('id', si.id, 'name', si.name, 'address', si.address, 'postcode', si.postcode),
            'call', jsonb_build_object('channel', c.channel, 'reason', c.reason),
            'patient', jsonb_build_object(
                'initials', nullif(upper(concat(left(c.patient_given_name, 1), left(c.patient_family_name, 1))), ''),
                'birth_year', c.patient_birth_year, 'sex', c.patient_sex),
            'booked_at', b.created_at, 'cancelled_at', b.cancelled_at)"""

# The event ``:kind`` of each booking ``b`` (of slot ``s`` ...) for the slot's effector; the statement
# that embeds it adds the FROM clause that names ``b``, ``s``, ``si`` and ``c``.
INSERT_BOOKING_EVENT = f"""INSERT INTO outbox_events (practitioner_id, kind, payload)
        SELECT s.practitioner_id, :kind, {BOOKING_PAYLOAD}"""

_BOOKING_EVENT = f"""
    {INSERT_BOOKING_EVENT}
    FROM bookings b
    JOIN slots s ON s.id = b.slot_id
    JOIN sites si ON si.id = s.site_id
    JOIN calls c ON c.id = b.call_id
    WHERE b.id = :booking_id
"""


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
