"""An active booking's slot is booked, kept by PostgreSQL (migration 0050): the search never offers a slot that holds
a patient, and the monthly report reads the bookings of the booked slots only. The booking, cancellation and move
routes keep it in one statement each (their own tests); here, the writes that would break it are refused."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.platform.errors import constraint_of
from tests.calls.helpers import create_call, make_booking


async def _booked(client, connection, auth) -> tuple[uuid.UUID, uuid.UUID]:
    call = await create_call(client, auth("operator"))
    booking = uuid.UUID(await make_booking(client, connection, auth, call["id"]))
    slot = (await connection.execute(text("SELECT slot_id FROM bookings WHERE id = :b"), {"b": booking})).scalar_one()
    return booking, slot


async def _refused(connection, sql: str, params: dict, constraint: str) -> None:
    savepoint = await connection.begin_nested()
    with pytest.raises(IntegrityError) as raised:
        await connection.execute(text(sql), params)
    await savepoint.rollback()
    assert constraint_of(raised.value) == constraint, raised.value


class TestAnActiveBookingsSlotIsBooked:
    async def test_a_slot_holding_an_active_booking_cannot_be_freed_nor_withdrawn(self, client, connection, auth):
        _, slot = await _booked(client, connection, auth)
        for status in ("free", "withdrawn"):
            await _refused(connection, "UPDATE slots SET status = :st WHERE id = :s", {"st": status, "s": slot},
                           "ck_slots_booked_while_active")
        assert (await connection.execute(text("SELECT status FROM slots WHERE id = :s"), {"s": slot})).scalar() == \
            "booked"

    async def test_an_active_booking_cannot_be_written_on_a_free_slot(self, client, connection, auth):
        booking, slot = await _booked(client, connection, auth)
        await connection.execute(text("UPDATE bookings SET status = 'cancelled' WHERE id = :b"), {"b": booking})
        await connection.execute(text("UPDATE slots SET status = 'free' WHERE id = :s"), {"s": slot})
        # neither given back its booking, nor another call's
        await _refused(connection, "UPDATE bookings SET status = 'active' WHERE id = :b", {"b": booking},
                       "ck_bookings_active_slot_booked")
        call = await create_call(client, auth("operator"))
        await _refused(connection, "INSERT INTO bookings (slot_id, call_id, status) VALUES (:s, :c, 'active')",
                       {"s": slot, "c": uuid.UUID(call["id"])}, "ck_bookings_active_slot_booked")

    async def test_both_written_in_one_statement_are_one_consistent_change(self, client, connection, auth):
        """What the booking path does: the slot booked and its booking written by the same statement (the check runs
        at the statement's end), and the same for freeing it with the booking cancelled."""
        booking, slot = await _booked(client, connection, auth)
        await connection.execute(text("""
            WITH cancelled AS (UPDATE bookings SET status = 'cancelled' WHERE id = :b RETURNING slot_id)
            UPDATE slots s SET status = 'free' FROM cancelled WHERE s.id = cancelled.slot_id"""), {"b": booking})
        call = await create_call(client, auth("operator"))
        await connection.execute(text("""
            WITH claimed AS (UPDATE slots SET status = 'booked' WHERE id = :s AND status = 'free' RETURNING id)
            INSERT INTO bookings (slot_id, call_id, status) SELECT id, :c, 'active' FROM claimed"""),
            {"s": slot, "c": uuid.UUID(call["id"])})
        assert (await connection.execute(text(
            "SELECT count(*) FROM bookings WHERE slot_id = :s AND status = 'active'"), {"s": slot})).scalar() == 1
