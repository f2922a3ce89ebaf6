"""Hold, book, read, cancel and post the outcome. Statements and flushes, never a commit."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.bookings import repository
from app.bookings.errors import CallBooked, CallClosed, NoOverCapacity, NotHeld, PractitionerBusy, SlotTaken
from app.bookings.schemas import (
    BookedSlot,
    BookingForCall,
    BookingRead,
    CancelIn,
    EdRedirection,
    HoldRead,
    OutcomeCreate,
    OverCapacityBooking,
    ReportState,
)
from app.calls import repository as calls_repository
from app.calls.repository import DIRECT_CALL_ORIGIN
from app.calls.schemas import notify_misfit
from app.identity import crypto
from app.identity.sealing import sealed_columns
from app.notices import reports
from app.outbox import events as outbox
from app.platform.database import Statements
from app.platform.errors import Conflict, Forbidden, NotFound, Unprocessable, constraint_of
from app.platform.logging import log
from app.slots import bookers
from app.territories import service as territory_service

# Why a slot cannot be taken, by its state (``slots.repository.STATE_SQL``).
WHY_TAKEN = {"booked": "the slot is booked", "withdrawn": "the slot is withdrawn", "past": "the slot has started",
             "held": "the slot is held for another call"}
# A refused booking whose slot is claimable again by the time its refusal is read (a hold lapsed, a
# booking was cancelled meanwhile) is tried again, this many times in all.
BOOKING_ATTEMPTS = 3


# ------------------------------------------------------------------------------------------------ hold


def _booker(principal: Principal) -> dict[str, Any]:
    return bookers.params(principal.role, principal.territories)


def _sees(visible: set[str] | None, territory_code: str) -> bool:
    return visible is None or territory_code in visible


async def _visible_slot(
    session: AsyncSession, principal: Principal, visible: set[str] | None, slot_id: uuid.UUID
) -> RowMapping:
    """The slot, if in a visible territory and open to this booker (a veiled slot does not exist for others)."""
    slot = await repository.slot_state(session, slot_id, _booker(principal))
    if slot is None or not _sees(visible, slot["territory_code"]) or not slot["bookable"]:
        raise NotFound(f"Slot {slot_id} not found")
    return slot


async def hold(statements: Statements, principal: Principal, slot_id: uuid.UUID, call_id: uuid.UUID,
               minutes: int) -> HoldRead:
    """Hold in one statement; when nothing was held, one read says why (as a booking's refusal)."""
    params = repository.hold_params(slot_id=slot_id, call_id=call_id, minutes=minutes, booker=_booker(principal),
                                    territories=None if principal.is_admin else list(principal.territories))
    held = await statements.fetch_row(repository.HOLD, params)
    if held is None:
        _raise_refusal(await statements.fetch_row(repository.REFUSAL, params), call_id, slot_id, "held", None)
        raise SlotTaken(f"Slot {slot_id} cannot be held: the slot changed meanwhile")
    log.info("slot.held", slot_id=str(slot_id), call_id=str(call_id), minutes=minutes)
    return HoldRead(slot_id=held["slot_id"], call_id=held["call_id"], held_until=held["held_until"])


async def release(session: AsyncSession, principal: Principal, slot_id: uuid.UUID, call_id: uuid.UUID) -> None:
    visible = await territory_service.visible_codes(session, principal)
    await _visible_slot(session, principal, visible, slot_id)
    if not await repository.release(session, slot_id, call_id):
        raise NotHeld(f"Slot {slot_id} is not held by call {call_id}", field="call_id")
    log.info("slot.released", slot_id=str(slot_id), call_id=str(call_id))


# --------------------------------------------------------------------------------------------- booking


@dataclass(frozen=True)
class Booked:
    """A booking's answer: made now, or the first answer given for the same Idempotency-Key."""

    body: dict[str, Any]
    replayed: bool


BookingRequest = BookingForCall | EdRedirection | OverCapacityBooking
# Who records an over-capacity appointment: the regulation, which agreed it with the doctor on the phone.
OVER_CAPACITY_ROLES = ("regulator", "operator", "admin")


def request_hash(data: BookingRequest) -> str:
    canonical = json.dumps(data.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _params(principal: Principal, data: BookingRequest, key: str | None, digest: str) -> dict[str, Any]:
    redirection = data if isinstance(data, EdRedirection) else None
    over = data if isinstance(data, OverCapacityBooking) else None
    appointment = None if over is None else {
        "practitioner_id": over.practitioner_id, "site_id": over.site_id, "start_at": over.start,
        "end_at": over.end, "mode": over.mode}
    patient: dict[str, Any] = {}
    sealed: dict[str, Any] = {}
    if redirection is not None:  # the new call's patient, sealed as every call's (app/identity/sealing.py)
        given = redirection.patient.model_dump() if redirection.patient else {}
        reason = redirection.reason
        if redirection.no_phone_reason is not None:  # kept where whoever calls the patient back reads
            reason = f"{reason}\n" if reason else ""
            reason += f"Pas de téléphone : {redirection.no_phone_reason}"
        sealed = sealed_columns(crypto.ring(), reason=reason,
                                **{k: given.get(k) for k in ("family_name", "given_name", "phone", "address", "email")})
        patient = {**given, **{k: sealed[f"patient_{k}"]
                               for k in ("family_name", "given_name", "phone", "address", "email")}}
    return repository.booking_params(
        slot_id=None if over else data.slot_id,  # type: ignore[union-attr]
        call_id=None if redirection else data.call_id,  # type: ignore[union-attr]
        sub=principal.sub, key=key, digest=digest,
        territories=None if principal.is_admin else list(principal.territories),
        patient=patient, reason=sealed.get("reason"), name_hashes=sealed.get("patient_name_hashes"),
        phone_hashes=sealed.get("patient_phone_hashes"), booker=_booker(principal), appointment=appointment,
        origin=None if redirection is None else {**DIRECT_CALL_ORIGIN[principal.role],
                                                 "referrer_kind": principal.referrer_kind,
                                                 "notify": redirection.notify,
                                                 "notify_consent": redirection.notify_consent},
        also=getattr(data, "also", False), replaces=getattr(data, "replaces", None),
    )


def _form(principal: Principal, data: BookingRequest, horizon_days: int) -> str:
    """Which form of the booking statement, once the role may use it."""
    if isinstance(data, EdRedirection):
        if principal.role not in DIRECT_CALL_ORIGIN:
            raise Unprocessable("call_id is required (only roles urgences and referrer book without a call)",
                                field="call_id")
        return "new_call"
    if principal.role == "referrer":
        raise Forbidden("A referrer books for the patient in front of him: give slot_id, patient and reason, "
                        "without call_id", field="call_id")
    if getattr(data, "replaces", None) is not None and principal.role not in OVER_CAPACITY_ROLES:
        # replacing cancels a booking of the call: the regulation's, which the ED may not cancel
        raise Forbidden("Only the regulation replaces a booking of a call", field="replaces")
    if isinstance(data, OverCapacityBooking):
        if principal.role not in OVER_CAPACITY_ROLES:
            raise Forbidden("Over-capacity appointments are recorded by the regulation", field="kind")
        now = dt.datetime.now(dt.UTC)
        if data.end <= now:
            raise Unprocessable("end: the appointment is over already", field="end")
        if data.start > now + dt.timedelta(days=horizon_days):
            raise Unprocessable(f"start: is more than {horizon_days} days ahead (the publishing horizon, as for "
                                "slots)", field="start")
        return "over_capacity"
    return "call"


async def _check_redirected(statements: Statements, data: EdRedirection) -> None:
    """A redirected patient can be called back (a phone, or why there is none) and his postcode exists."""
    if data.patient is None:
        raise Unprocessable("Name the patient the doctor will see: family name and birth year",
                            field="patient.family_name")
    if data.patient.phone is None and data.no_phone_reason is None:
        raise Unprocessable("Give the patient's phone (if the doctor cancels, the regulation calls him back), or "
                            "no_phone_reason saying why there is none", field="patient.phone")
    misfit = notify_misfit(data.notify, data.notify_consent, phone=data.patient.phone, email=data.patient.email,
                           birth_year=data.patient.birth_year, year=dt.datetime.now(dt.UTC).year)
    if misfit is not None:  # told as a call would be: the same rules (app/calls/schemas.py)
        raise Unprocessable(misfit[1], field=misfit[0])
    postcode = data.patient.postcode
    if postcode is not None and await statements.fetch_row(repository.POSTCODE_EXISTS, {"postcode": postcode}) is None:
        raise Unprocessable(f"Postcode {postcode} does not exist (La Poste)", field="patient.postcode")


async def book(
    statements: Statements, principal: Principal, data: BookingRequest, key: str | None, horizon_days: int,
) -> Booked:
    """Book in one statement (the slot for the call named, a slot for a new ED call, or an over-capacity
    appointment for the call named); when nothing was booked, one read says why: a replay of the key's
    first answer, or the refusal."""
    form = _form(principal, data, horizon_days)
    if isinstance(data, EdRedirection):
        await _check_redirected(statements, data)
    digest = request_hash(data) if key is not None else ""
    params = _params(principal, data, key, digest)
    refusal = repository.OVER_CAPACITY_REFUSAL if form == "over_capacity" else repository.REFUSAL
    for _ in range(BOOKING_ATTEMPTS):
        try:
            row = await statements.fetch_row(repository.BOOK[form + ("_replacing" if params["replaces"] else "")],
                                             params)
        except IntegrityError as exc:
            constraint = constraint_of(exc)
            if constraint == repository.ACTIVE_BOOKING_CONSTRAINT:
                raise SlotTaken(f"Slot {params['slot_id']} already has an active booking") from exc
            if constraint == repository.ONE_ACTIVE_PER_CALL_CONSTRAINT:
                raise CallBooked(f"Call {params['call_id']} already has an active booking: give `replaces` (its "
                                 "id) to replace it, or `also: true` for a second orientation",
                                 field="replaces") from exc
            if constraint == repository.PRACTITIONER_OVERLAP_CONSTRAINT:
                raise PractitionerBusy("The practitioner has a slot or an appointment between start and end: book "
                                       "that slot, or agree another time", field="start") from exc
            if key is None or constraint != repository.IDEMPOTENCY_KEY_CONSTRAINT:
                raise
            row = None  # the key was used before: nothing was written, its first answer is replayed below
        if row is not None:
            log.info("booking.created", booking_id=str(row["id"]), slot_id=str(params["slot_id"]), form=form)
            return Booked(json.loads(row["body"]), replayed=False)
        why = await statements.fetch_row(refusal, params)
        if key is not None and why["request_hash"] is not None:
            return _replay(why, digest)
        if isinstance(data, OverCapacityBooking):
            _raise_over_capacity_refusal(why, data)
        else:
            _raise_refusal(why, getattr(data, "call_id", None), getattr(data, "slot_id", None))
    raise SlotTaken("The booking cannot be made: what it needs changed meanwhile")


# An appointment agenda software declared to us (app/fhir/appointments.py) is a new call of channel
# ``autre``; a practitioner's own agenda takes any of his slots, the national systems book as the
# regulation does.
DECLARED_ORIGIN = {"channel": "autre", "intent": "inconnu", "referrer_kind": None}


def _declared_booker(principal: Principal) -> dict[str, Any]:
    return {"bookers": bookers.EVERYONE, "member_of": []} if principal.role in ("effector", "admin") \
        else _booker(principal)


async def book_declared(statements: Statements, principal: Principal, slot_id: uuid.UUID, key: str) -> Booked:
    """Book ``slot_id`` for a declared appointment, in the one booking statement; ``key`` (from the
    appointment's identifier) makes a declaration sent again replay its first answer."""
    booker = _declared_booker(principal)
    digest = hashlib.sha256(str(slot_id).encode()).hexdigest()
    params = repository.booking_params(slot_id=slot_id, call_id=None, sub=principal.sub, key=key, digest=digest,
                                       territories=None, patient={}, reason=None, booker=booker,
                                       origin=DECLARED_ORIGIN)
    try:
        row = await statements.fetch_row(repository.BOOK["new_call"], params)
    except IntegrityError as exc:
        constraint = constraint_of(exc)
        if constraint == repository.ACTIVE_BOOKING_CONSTRAINT:
            raise SlotTaken(f"Slot {slot_id} already has an active booking") from exc
        if constraint != repository.IDEMPOTENCY_KEY_CONSTRAINT:
            raise
        row = None
    if row is not None:
        log.info("booking.created", booking_id=str(row["id"]), slot_id=str(slot_id), form="declared")
        return Booked(json.loads(row["body"]), replayed=False)
    why = await statements.fetch_row(repository.REFUSAL, params)
    if why["request_hash"] is not None:
        return _replay(why, digest)
    if not why["slot_visible"] or not why["claimable"] or not why["bookable"]:
        raise SlotTaken(f"Slot {slot_id} cannot be booked: {WHY_TAKEN.get(why['state'], 'it changed')}")
    raise SlotTaken("The booking cannot be made: what it needs changed meanwhile")


async def move_declared(session: AsyncSession, principal: Principal, booking: RowMapping, slot_id: uuid.UUID) -> None:
    """Move the booking of a declared appointment (``booking``: ``repository.booking_with_slot``, read behind
    its call's lock) to ``slot_id``, the same practitioner's slot at the new time: claimed as every booking
    claims its slot (409 when it is booked, held, withdrawn, started or not open to this booker), in one
    statement with the booking's move, the old slot's release and the effector's events. When nothing moved,
    raise; the request's transaction is then rolled back whole."""
    booker = _declared_booker(principal)
    try:
        moved = await repository.move(session, booking["id"], booking["slot_id"], slot_id, booking["call_id"], booker)
    except IntegrityError as exc:
        if constraint_of(exc) == repository.ACTIVE_BOOKING_CONSTRAINT:
            raise SlotTaken(f"Slot {slot_id} already has an active booking", field="start") from exc
        raise
    if moved is None:
        slot = await repository.slot_state(session, slot_id, booker)
        if slot is not None and slot["state"] == "free" and not slot["bookable"]:
            raise SlotTaken(f"Slot {slot_id} is not open to this booker", field="start")
        if slot is not None and slot["state"] != "free":
            raise SlotTaken(f"Slot {slot_id} cannot be booked: {WHY_TAKEN.get(slot['state'], 'it changed')}",
                            field="start")
        raise Conflict("The appointment changed meanwhile (cancelled, or given its outcome)", field="status")
    log.info("booking.moved", booking_id=str(booking["id"]), slot_id=str(slot_id),
             from_slot_id=str(booking["slot_id"]), slot_freed=bool(moved["freed"]))


def _raise_over_capacity_refusal(why: Any, data: OverCapacityBooking) -> None:
    """Raise what refused the appointment; return when nothing did (the call was closed and reopened…)."""
    if not why["call_visible"]:
        raise NotFound(f"Call {data.call_id} not found", field="call_id")
    if why["call_status"] == "closed":
        raise CallClosed(f"Call {data.call_id} is closed", field="call_id")
    if not why["practitioner_known"]:
        raise NotFound(f"Practitioner {data.practitioner_id} not found", field="practitioner_id")
    if not why["site_visible"]:
        raise NotFound(f"Site {data.site_id} not found", field="site_id")
    if not why["accepts_over_capacity"]:
        raise NoOverCapacity(f"Practitioner {data.practitioner_id} does not accept over-capacity appointments",
                             field="practitioner_id")
    if not why["serves"]:
        raise Unprocessable("The site is in a territory the practitioner does not serve", field="site_id")
    if not why["own_site"]:
        raise Unprocessable(f"Site {data.site_id} is not one of the practitioner's sites (his site_ids): an "
                            "over-capacity appointment is recorded only where he practises", field="site_id")


def _replay(stored: Any, digest: str) -> Booked:
    if stored["request_hash"] != digest:
        raise Unprocessable("Idempotency-Key was already used with a different body", field="Idempotency-Key")
    response = stored["response"]
    return Booked(json.loads(response) if isinstance(response, str) else response, replayed=True)


def _raise_refusal(why: Any, call_id: uuid.UUID | None, slot_id: uuid.UUID | None, done: str = "booked",
                   slot_field: str | None = "slot_id") -> None:
    """Raise what refused the booking (or the hold, ``done="held"``, whose slot is in its path: ``slot_field``
    None): ``why`` is ``REFUSAL``'s row; return when nothing did (the slot is claimable again)."""
    if not why["call_visible"]:
        raise NotFound(f"Call {call_id} not found", field="call_id")
    if why["call_status"] == "closed":
        raise CallClosed(f"Call {call_id} is closed", field="call_id")
    if not why["slot_visible"] or not why["bookable"]:
        raise NotFound(f"Slot {slot_id} not found", field=slot_field)
    if not why["claimable"]:
        raise SlotTaken(f"Slot {slot_id} cannot be {done}: {WHY_TAKEN.get(why['state'], 'it changed')}")


# ------------------------------------------------------------------------------- read, cancel, outcome


def _booking_read(row: RowMapping) -> BookingRead:
    return BookingRead(
        id=row["id"], kind="over_capacity" if row["over_capacity"] else "slot", slot_id=row["slot_id"],
        call_id=row["call_id"], status=row["status"],
        created_by=row["created_by"], created_at=row["created_at"], cancelled_at=row["cancelled_at"],
        outcome=row["outcome"], outcome_note=row["outcome_note"], outcome_at=row["outcome_at"],
        cancel_reason=row["cancel_reason"],
        slot=BookedSlot(
            id=row["slot_id"], start=row["start_at"], end=row["end_at"], mode=row["mode"],
            territory_code=row["territory_code"], practitioner_id=row["practitioner_id"], site_id=row["site_id"],
        ),
    )


async def _seen_booking(session: AsyncSession, principal: Principal, booking_id: uuid.UUID) -> RowMapping:
    """The booking if the principal may see it: admin, the slot's effector, staff of its territory."""
    row = await repository.booking_with_slot(session, booking_id)
    if row is None or not await _may_see(session, principal, row):
        raise NotFound(f"Booking {booking_id} not found")
    return row


async def _may_see(session: AsyncSession, principal: Principal, row: RowMapping) -> bool:
    """Decided by role and territory only: having made the booking grants nothing to a token of another
    role or territory carrying the same subject."""
    if principal.is_admin:
        return True
    if principal.role == "effector":
        return principal.practitioner_id == row["practitioner_id"]
    if principal.role in ("operator", "regulator", "urgences"):
        return _sees(await territory_service.visible_codes(session, principal), row["territory_code"])
    if principal.role == "referrer":
        # a city professional sees the bookings he made himself, in his territories, nothing else
        return row["created_by"] == principal.sub and _sees(
            await territory_service.visible_codes(session, principal), row["territory_code"])
    return False


async def list_(
    session: AsyncSession, principal: Principal, *, mine: bool, status: str | None, limit: int, offset: int
) -> list[BookingRead]:
    """The bookings the principal may see (as ``get``), newest first; ``mine``: those it made (an ED
    nurse's redirections)."""
    territories = None if principal.role == "effector" else await territory_service.visible_codes(session, principal)
    practitioner_id = principal.practitioner_id if principal.role == "effector" else None
    rows = await repository.bookings_with_slots(
        session, territories=territories, practitioner_id=practitioner_id,
        created_by=principal.sub if mine or principal.role == "referrer" else None, status=status, limit=limit,
        offset=offset)
    return [_booking_read(r) for r in rows]


async def get(session: AsyncSession, principal: Principal, booking_id: uuid.UUID) -> BookingRead:
    read = _booking_read(await _seen_booking(session, principal, booking_id))
    report = await reports.of_booking(session, booking_id)
    return read.model_copy(update={"report": ReportState(**report)}) if report is not None else read


async def cancel(
    session: AsyncSession, principal: Principal, booking_id: uuid.UUID, data: CancelIn | None = None
) -> BookingRead:
    """Cancel; the call that depended on the booking goes back to the queue as ``to_reorient``."""
    row = await _seen_booking(session, principal, booking_id)
    if principal.role in ("urgences", "referrer") and row["created_by"] != principal.sub:
        raise Forbidden("Only the booker, a regulator or operator of the territory, or the effector may cancel")
    reason = data.reason if data is not None else None
    await cancel_booking(session, row, sub=principal.sub, role=principal.role, reason=reason)
    return await get(session, principal, booking_id)


async def cancel_booking(session: AsyncSession, row: RowMapping, *, sub: str, role: str, reason: str | None) -> None:
    """The one cancellation of a booking (``row``: ``repository.booking_with_slot``), by whoever may: its slot
    freed, its decision revoked, its call back to ``to_reorient`` when no booking of it remains, the effector
    told through the outbox. A booking already cancelled or closed by its outcome is a Conflict."""
    booking_id = row["id"]
    # The call is locked first: two cancellations of its bookings, or a cancellation and a new booking,
    # then see each other, and a call is sent back to the queue exactly when no booking remains.
    await calls_repository.lock(session, row["call_id"])
    done = await repository.cancel(session, booking_id, sub=sub, role=role, reason=reason)
    if done is None:
        what = "already cancelled" if row["status"] == "cancelled" else "closed by its outcome"
        raise Conflict(f"Booking {booking_id} is {what}")
    await outbox.add_booking_event(session, booking_id, "booking.cancelled")
    log.info("booking.cancelled", booking_id=str(booking_id), slot_freed=bool(done["freed"]),
             call_to_reorient=bool(done["reoriented"]))


async def set_outcome(
    session: AsyncSession, principal: Principal, booking_id: uuid.UUID, data: OutcomeCreate,
    report_give_up_seconds: float,
) -> BookingRead:
    """The outcome, once; with a report (a visit that took place), the report queued for the médecin traitant in
    the same transaction."""
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
    if data.report is not None and data.status != "fulfilled":  # after the booking's own refusals (404, 409)
        raise Unprocessable("A report goes with a visit that took place (status fulfilled)", field="report")
    await outbox.add_booking_event(session, booking_id, "booking.outcome")
    report_state = None
    if data.report is not None:
        row = await repository.booking_with_slot(session, booking_id)
        assert row is not None
        report_state = await reports.queue(
            session, booking_id=booking_id, call_id=row["call_id"], author=principal.sub,
            practitioner_id=principal.practitioner_id, report=data.report.text,
            traits=data.report.patient.model_dump(mode="json"), give_up_seconds=report_give_up_seconds)
    log.info("booking.outcome", booking_id=str(booking_id), outcome=data.status, report=report_state)
    return await get(session, principal, booking_id)
