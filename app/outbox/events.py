"""The booking events of the outbox: what one keeps of a booking, how it is written (by the booking's own
statement, or after a change), and what the purge leaves of it. The appointment a booking event tells is
app/outbox/appointments.py."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.platform.database import sql

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


# The retention's purge of what booking events copied of a call (app/calls/retention.py).
_PURGE = text("""
    UPDATE outbox_events e
    SET payload = (e.payload - 'patient') || jsonb_build_object('call', (e.payload->'call') - 'reason', 'purged', true)
    FROM bookings b JOIN calls c ON c.id = b.call_id
    WHERE e.payload ? 'patient' AND CAST(e.payload->>'booking_id' AS uuid) = b.id AND c.received_at < :before""")


async def purge_booking_events(session: AsyncSession, received_before: dt.datetime) -> int:
    """Empty what booking events copied of the patient (initials, birth year, sex) and of the call's
    reason, for the calls received before ``received_before`` (the calls' own purge); how many."""
    result = await session.execute(_PURGE, {"before": received_before})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]

