"""Search, hold, book, cancel and outcome rules. Flushes and statements, never a commit."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from app.auth import Principal
from app.bookings import repository
from app.bookings.repository import SearchFilter
from app.bookings.schemas import (
    BookedSlot,
    BookingCreate,
    BookingRead,
    FoundSlot,
    HoldRead,
    OutcomeCreate,
    SearchPage,
    SlotPractitioner,
    SlotSite,
)
from app.database import plan_for_the_values
from app.errors import Conflict, Forbidden, NotFound, Unprocessable, constraint_of
from app.logging import log
from app.territories import service as territory_service


class SlotTaken(Conflict):
    """The slot is booked, withdrawn, started, or held by another call."""


class CallClosed(Conflict):
    """The call is closed: nothing more is booked for it."""


class NotHeld(Conflict):
    """The slot is not held by this call."""


# A patient's public → the slot audiences that fit (a child may be seen in a general slot).
AUDIENCES = {"all": ("all",), "children": ("all", "children"), "ehpad": ("all", "ehpad")}


# ---------------------------------------------------------------------------------------------- search


def encode_cursor(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(value, dict):
            raise ValueError("not an object")
        return value
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise Unprocessable("cursor is not one this API gave", field="cursor") from exc


async def search_scope(session: AsyncSession, principal: Principal, territory: str | None) -> list[str]:
    """The territory codes a search covers: the one asked (with its CPTS), or every one the user sees."""
    mine = None if principal.is_admin else list(principal.territories)
    if territory:
        codes = await repository.search_scope(session, territory, mine)
        if not codes:
            raise NotFound(f"Territory {territory} not found", field="territory")
        return codes
    if mine is None:
        raise Unprocessable("territory is required for a platform administrator", field="territory")
    return sorted(await territory_service.visible_codes(session, principal) or [])


def _paging(cursor: str | None, by_distance: bool) -> tuple[tuple[dt.datetime, uuid.UUID] | None, int]:
    if cursor is None:
        return None, 0
    value = decode_cursor(cursor)
    try:
        if by_distance:
            return None, max(int(value["o"]), 0)
        return (dt.datetime.fromisoformat(value["s"]), uuid.UUID(value["i"])), 0
    except (KeyError, TypeError, ValueError) as exc:
        raise Unprocessable("cursor does not fit this sort order", field="cursor") from exc


def _in_calendar(value: dt.datetime) -> bool:
    try:
        return 1970 <= value.astimezone(dt.UTC).year <= 9998
    except (OverflowError, ValueError):
        return False


def check_search(
    *, start_from: dt.datetime | None, start_to: dt.datetime | None, near_lat: float | None,
    near_lon: float | None, radius_km: float | None, sort: str,
) -> None:
    for name, value in (("start_from", start_from), ("start_to", start_to)):
        if value is not None and not _in_calendar(value):
            raise Unprocessable(f"{name} must lie between the years 1970 and 9999", field=name)
    if start_from is not None and start_to is not None and start_to <= start_from:
        raise Unprocessable("start_to must be after start_from", field="start_to")
    if (near_lat is None) != (near_lon is None):
        raise Unprocessable("near_lat and near_lon go together", field="near_lon" if near_lon is None else "near_lat")
    if radius_km is not None and near_lat is None:
        raise Unprocessable("radius_km needs near_lat and near_lon", field="radius_km")
    if sort == "distance" and near_lat is None:
        raise Unprocessable("sort=distance needs near_lat and near_lon", field="sort")


async def search(
    session: AsyncSession, principal: Principal, *, territory: str | None, start_from: dt.datetime | None,
    start_to: dt.datetime | None, mode: str | None, audience: str | None, near_lat: float | None,
    near_lon: float | None, radius_km: float | None, sort: str, limit: int, cursor: str | None,
) -> SearchPage:
    check_search(start_from=start_from, start_to=start_to, near_lat=near_lat, near_lon=near_lon,
                 radius_km=radius_km, sort=sort)
    by_distance = sort == "distance"
    after, offset = _paging(cursor, by_distance)
    codes = await search_scope(session, principal, territory)
    if not codes:
        return SearchPage(items=[], next_cursor=None)
    near = (near_lat, near_lon) if near_lat is not None and near_lon is not None else None
    f = SearchFilter(
        codes=codes, start_from=start_from, start_to=start_to, mode=mode,
        audiences=AUDIENCES[audience] if audience else None, near=near, radius_km=radius_km,
        by_distance=by_distance, after=after, offset=offset, limit=limit,
    )
    await plan_for_the_values(session)
    rows = await repository.search(session, f)
    items = [_found(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(
            {"o": offset + limit} if by_distance else {"s": last["start_at"].isoformat(), "i": str(last["id"])}
        )
    return SearchPage(items=items, next_cursor=next_cursor)


def _found(r: RowMapping) -> FoundSlot:
    return FoundSlot(
        id=r["id"], start=r["start_at"], end=r["end_at"], mode=r["mode"], audience=r["audience"],
        territory_code=r["territory_code"],
        practitioner=SlotPractitioner(
            id=r["practitioner_id"], rpps=r["rpps"], family_name=r["family_name"], given_name=r["given_name"]
        ),
        site=SlotSite(
            id=r["site_id"], name=r["site_name"], kind=r["site_kind"], address=r["address"],
            postcode=r["postcode"], lat=r["lat"], lon=r["lon"],
        ),
        distance_km=round(r["distance_km"], 3) if r["distance_km"] is not None else None,
    )


# ------------------------------------------------------------------------------------------------ hold


def _sees(visible: set[str] | None, territory_code: str) -> bool:
    return visible is None or territory_code in visible


async def _open_call(session: AsyncSession, visible: set[str] | None, call_id: uuid.UUID) -> RowMapping:
    call = await repository.call_state(session, call_id)
    if call is None or not _sees(visible, call["territory_code"]):
        raise NotFound(f"Call {call_id} not found", field="call_id")
    if call["status"] == "closed":
        raise CallClosed(f"Call {call_id} is closed", field="call_id")
    return call


async def _visible_slot(session: AsyncSession, visible: set[str] | None, slot_id: uuid.UUID) -> RowMapping:
    slot = await repository.slot_state(session, slot_id)
    if slot is None or not _sees(visible, slot["territory_code"]):
        raise NotFound(f"Slot {slot_id} not found")
    return slot


def _why_taken(slot: RowMapping) -> str:
    if slot["status"] != "free":
        return f"the slot is {slot['status']}"
    if slot["start_at"] <= dt.datetime.now(dt.UTC):
        return "the slot has started"
    if slot["held"]:
        return "the slot is held for another call"
    return "the slot changed meanwhile"


async def hold(
    session: AsyncSession, principal: Principal, slot_id: uuid.UUID, call_id: uuid.UUID, minutes: int
) -> HoldRead:
    visible = await territory_service.visible_codes(session, principal)
    await _open_call(session, visible, call_id)
    slot = await _visible_slot(session, visible, slot_id)
    held = await repository.hold(session, slot_id, call_id, minutes)
    if held is None:
        raise SlotTaken(f"Slot {slot_id} cannot be held: {_why_taken(slot)}")
    log.info("slot.held", slot_id=str(slot_id), call_id=str(call_id), minutes=minutes)
    return HoldRead(slot_id=held["slot_id"], call_id=held["call_id"], held_until=held["held_until"])


async def release(session: AsyncSession, principal: Principal, slot_id: uuid.UUID, call_id: uuid.UUID) -> None:
    visible = await territory_service.visible_codes(session, principal)
    await _visible_slot(session, visible, slot_id)
    if not await repository.release(session, slot_id, call_id):
        raise NotHeld(f"Slot {slot_id} is not held by call {call_id}", field="call_id")
    log.info("slot.released", slot_id=str(slot_id), call_id=str(call_id))


# --------------------------------------------------------------------------------------------- booking


def request_hash(data: BookingCreate) -> str:
    canonical = json.dumps(data.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def book(
    sessions: async_sessionmaker[AsyncSession], principal: Principal, data: BookingCreate,
    idempotency_key: str | None,
) -> tuple[int, dict[str, Any], bool]:
    """Book a slot; returns (status, body, replayed). The first answer for a key is replayed as it was.

    The usual booking is one statement on a connection of its own, with no session at all; the other
    cases run step by step in a transaction committed before the answer."""
    if data.call_id is None and principal.role != "urgences":
        raise Unprocessable("call_id is required (only role urgences books without a call)", field="call_id")
    digest = request_hash(data) if idempotency_key is not None else ""
    if data.call_id is not None:
        done = await _book_at_once(sessions.kw["bind"], principal, data, idempotency_key, digest)
        if done is not None:
            return done
    async with sessions() as session, session.begin():
        return await _book_step_by_step(session, principal, data, idempotency_key, digest)


async def _book_step_by_step(
    session: AsyncSession, principal: Principal, data: BookingCreate, idempotency_key: str | None, digest: str
) -> tuple[int, dict[str, Any], bool]:
    key_claimed = False
    booking: BookingRead | None = None
    if data.call_id is not None:
        # The key, the claim and every write of a booking in one statement, within this transaction.
        booking, key_claimed = await _book_in_one_statement(session, principal, data, idempotency_key, digest)
        if idempotency_key is not None and not key_claimed:
            return await _replay_of(session, principal.sub, idempotency_key, digest)
    if idempotency_key is not None and not key_claimed:
        if not await repository.claim_idempotency_key(session, principal.sub, idempotency_key, digest):
            return await _replay_of(session, principal.sub, idempotency_key, digest)
    if booking is None:
        # Refused in one statement (or no call yet): the step-by-step path books or says exactly why not.
        booking = await _book(session, principal, data)
    body = booking.model_dump(mode="json")
    if idempotency_key is not None:
        await repository.store_answer(session, principal.sub, idempotency_key, 201, json.dumps(body))
    return 201, body, False


async def _book_at_once(
    bind: AsyncEngine | AsyncConnection, principal: Principal, data: BookingCreate, key: str | None, digest: str
) -> tuple[int, dict[str, Any], bool] | None:
    """The usual booking in one round trip on its own autocommitted connection: the claim, every write,
    and the answer kept for the key. When nothing was booked, one read says why: the first answer of
    the key (a replay), or the refusal. None when nothing explains it: the slot became free meanwhile."""
    assert data.call_id is not None
    territories = None if principal.is_admin else list(principal.territories)
    why = None
    try:
        async with _statement_connection(bind) as connection:
            row = await repository.book_at_once(
                connection, slot_id=data.slot_id, call_id=data.call_id, sub=principal.sub,
                territories=territories, key=key, digest=digest,
            )
    except IntegrityError as exc:
        if key is None or constraint_of(exc) != repository.IDEMPOTENCY_KEY_CONSTRAINT:
            _raise_if_slot_taken(exc, data.slot_id)
            raise
        row = None  # the key was used before: nothing was written, its first answer is replayed below
    if row is None:
        async with _statement_connection(bind) as connection:
            why = await repository.refusal(connection, slot_id=data.slot_id, call_id=data.call_id,
                                           sub=principal.sub, territories=territories, key=key)
        return _refused(why, data, key, digest)
    log.info("booking.created", booking_id=str(row["id"]), slot_id=str(data.slot_id), call_id=str(data.call_id))
    return 201, json.loads(row["body"]), False


def _refused(
    why: Any, data: BookingCreate, key: str | None, digest: str
) -> tuple[int, dict[str, Any], bool] | None:
    """The answer to a booking that wrote nothing, checked in the order the step-by-step path checks."""
    if key is not None and why["request_hash"] is not None:
        return _replay(why, digest)
    if not why["call_visible"]:
        raise NotFound(f"Call {data.call_id} not found", field="call_id")
    if why["call_status"] == "closed":
        raise CallClosed(f"Call {data.call_id} is closed", field="call_id")
    if not why["slot_visible"]:
        raise NotFound(f"Slot {data.slot_id} not found")
    if not why["claimable"]:
        raise SlotTaken(f"Slot {data.slot_id} cannot be booked: {_why_taken(why)}")
    return None


@asynccontextmanager
async def _statement_connection(bind: AsyncEngine | AsyncConnection) -> AsyncIterator[AsyncConnection]:
    """A connection on which one statement commits by itself; when the sessions are bound to a
    connection (a transaction opened by their caller), that connection, in a savepoint."""
    if isinstance(bind, AsyncEngine):
        async with bind.connect() as connection:
            yield connection  # the statements go to the driver directly: no transaction is opened
        return
    async with bind.begin_nested():
        yield bind


async def _replay_of(session: AsyncSession, sub: str, key: str, digest: str) -> tuple[int, dict[str, Any], bool]:
    """The first answer given for this key, if this is the same request."""
    return _replay(await repository.stored_answer(session, sub, key), digest)


def _replay(stored: Any, digest: str) -> tuple[int, dict[str, Any], bool]:
    if stored is None or stored["status_code"] == 0:
        raise Conflict("A request with this Idempotency-Key is still in progress", field="Idempotency-Key")
    if stored["request_hash"] != digest:
        raise Unprocessable("Idempotency-Key was already used with a different body", field="Idempotency-Key")
    response = stored["response"]
    return stored["status_code"], json.loads(response) if isinstance(response, str) else response, True


async def _book_in_one_statement(
    session: AsyncSession, principal: Principal, data: BookingCreate, key: str | None, digest: str
) -> tuple[BookingRead | None, bool]:
    assert data.call_id is not None
    try:
        row = await repository.claim_and_book(
            session, slot_id=data.slot_id, call_id=data.call_id, sub=principal.sub,
            territories=None if principal.is_admin else list(principal.territories), key=key, digest=digest,
        )
    except IntegrityError as exc:
        _raise_if_slot_taken(exc, data.slot_id)
        raise
    if row["id"] is None:
        return None, bool(row["key_claimed"])
    log.info("booking.created", booking_id=str(row["id"]), slot_id=str(data.slot_id), call_id=str(data.call_id))
    return _read(row, row, slot_id=data.slot_id), bool(row["key_claimed"])


def _raise_if_slot_taken(exc: IntegrityError, slot_id: uuid.UUID) -> None:
    """The one-active-booking-per-slot index refused: the slot was taken meanwhile."""
    if constraint_of(exc) == "uq_bookings_active_slot":
        raise SlotTaken(f"Slot {slot_id} already has an active booking") from exc


async def _book(session: AsyncSession, principal: Principal, data: BookingCreate) -> BookingRead:
    visible = await territory_service.visible_codes(session, principal)
    if data.call_id is not None:
        await _open_call(session, visible, data.call_id)
    # A new urgences call holds nothing: the nil id matches no hold.
    slot = await repository.claim(session, data.slot_id, data.call_id or uuid.UUID(int=0))
    if slot is None:
        state = await _visible_slot(session, visible, data.slot_id)
        raise SlotTaken(f"Slot {data.slot_id} cannot be booked: {_why_taken(state)}")
    if not _sees(visible, slot["territory_code"]):
        raise NotFound(f"Slot {data.slot_id} not found")  # the claim is rolled back with the request
    call_id = data.call_id or await repository.create_urgences_call(
        session, territory_code=slot["territory_code"],
        patient=data.patient.model_dump() if data.patient else {}, reason=data.reason, sub=principal.sub,
    )
    try:
        row = await repository.insert_booking(session, slot_id=data.slot_id, call_id=call_id, sub=principal.sub)
    except IntegrityError as exc:
        _raise_if_slot_taken(exc, data.slot_id)
        raise
    log.info("booking.created", booking_id=str(row["id"]), slot_id=str(data.slot_id), call_id=str(call_id))
    return _read(row, slot, slot_id=data.slot_id)


def _read(row: RowMapping, slot: RowMapping, *, slot_id: uuid.UUID) -> BookingRead:
    return BookingRead(
        id=row["id"], slot_id=row["slot_id"], call_id=row["call_id"], status=row["status"],
        created_by=row["created_by"], created_at=row["created_at"], cancelled_at=row["cancelled_at"],
        outcome=row["outcome"], outcome_note=row["outcome_note"], outcome_at=row["outcome_at"],
        slot=BookedSlot(
            id=slot_id, start=slot["start_at"], end=slot["end_at"], mode=slot["mode"],
            territory_code=slot["territory_code"], practitioner_id=slot["practitioner_id"], site_id=slot["site_id"],
        ),
    )


# ------------------------------------------------------------------------------- read, cancel, outcome


async def _seen_booking(session: AsyncSession, principal: Principal, booking_id: uuid.UUID) -> RowMapping:
    """The booking if the principal may see it: admin, booker, the slot's effector, staff of the territory."""
    row = await repository.booking_with_slot(session, booking_id)
    if row is None or not await _may_see(session, principal, row):
        raise NotFound(f"Booking {booking_id} not found")
    return row


async def _may_see(session: AsyncSession, principal: Principal, row: RowMapping) -> bool:
    if principal.is_admin or row["created_by"] == principal.sub:
        return True
    if principal.role == "effector":
        return principal.practitioner_id == row["practitioner_id"]
    if principal.role in ("operator", "regulator", "urgences"):
        return _sees(await territory_service.visible_codes(session, principal), row["territory_code"])
    return False


async def get(session: AsyncSession, principal: Principal, booking_id: uuid.UUID) -> BookingRead:
    row = await _seen_booking(session, principal, booking_id)
    return _read(row, row, slot_id=row["slot_id"])


async def cancel(session: AsyncSession, principal: Principal, booking_id: uuid.UUID) -> BookingRead:
    row = await _seen_booking(session, principal, booking_id)
    if principal.role == "urgences" and row["created_by"] != principal.sub:
        raise Forbidden("Only the booker, a regulator or operator of the territory, or the effector may cancel")
    done = await repository.cancel(session, booking_id, principal.sub)
    if done is None:
        what = "already cancelled" if row["status"] == "cancelled" else "closed by its outcome"
        raise Conflict(f"Booking {booking_id} is {what}")
    await repository.insert_event(session, booking_id, "booking.cancelled")
    log.info("booking.cancelled", booking_id=str(booking_id), slot_freed=bool(done["freed"]))
    return await get(session, principal, booking_id)


async def set_outcome(
    session: AsyncSession, principal: Principal, booking_id: uuid.UUID, data: OutcomeCreate
) -> BookingRead:
    assert principal.practitioner_id is not None
    if not await repository.set_outcome(session, booking_id, principal.practitioner_id, data.status, data.note):
        row = await repository.booking_with_slot(session, booking_id)
        if row is None or row["practitioner_id"] != principal.practitioner_id:
            raise NotFound(f"Booking {booking_id} not found")
        if row["status"] != "active":
            raise Conflict(f"Booking {booking_id} is cancelled")
        if row["outcome"] is not None:
            raise Conflict(f"Booking {booking_id} already has its outcome ({row['outcome']})")
        raise Conflict(f"The slot of booking {booking_id} has not started yet", field="status")
    log.info("booking.outcome", booking_id=str(booking_id), outcome=data.status)
    return await get(session, principal, booking_id)
