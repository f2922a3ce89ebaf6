"""Appointments as the ANS guide exchanges them (profile FrAppointmentSAS): what we declare of the
bookings made on our slots, and what agenda software declares to us of the appointments it made on the
slots it published here.

Received (``POST /fhir/Appointment``, conditional ``PUT /fhir/Appointment?identifier=system|value``):
an appointment ``booked`` becomes a booking of the practitioner's slot at that time — by the same one
statement as every booking, so a slot never holds two patients — for a new call of channel ``autre``;
declared ``booked`` again at another time, its booking moves to the practitioner's slot at that time if
it is free (409 otherwise; app/bookings/repository.py ``MOVE``); ``cancelled`` cancels it; ``fulfilled``
/ ``noshow`` is its outcome. The identifier makes every
declaration idempotent: the declarer may send it again (at least once), it changes nothing twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.bookings import repository as bookings_repository
from app.bookings import service as bookings_service
from app.calls import repository as calls_repository
from app.fhir import params
from app.fhir import resources as r
from app.fhir.models import DeclaredAppointment
from app.outbox import appointments as projection
from app.outbox import events as outbox
from app.platform.config import get_settings
from app.platform.database import Statements
from app.platform.errors import BadRequest, Conflict, Forbidden, NotFound, Unprocessable
from app.platform.logging import log
from app.practitioners.models import Practitioner
from app.slots.models import Slot

PROFILE = "http://sas.fr/fhir/StructureDefinition/FrAppointmentSAS"
OPERATOR = "http://interopsante.org/fhir/StructureDefinition/FrAppointmentOperator"
SAS_TECHNICAL_ID = "urn:oid:1.2.250.1.213.3.6"  # a regulator without a national id: the SAS technical id
# The identifier system of the appointments we declare: the guide asks for "une URL propre à la solution
# éditeur", fixed. Ours is this path under SNP_PUBLIC_URL, recorded the first time it is used
# (``identifier_systems``) and never changed after, even if the public URL is; the value is the booking's id.
SYSTEM_PATH = "/fhir/sid/appointment"
# The system of the appointments declared before it (the booking's id as a URN, FHIR's RFC 3986 system):
# they keep it in their updates, so that the platform finds them.
LEGACY_SYSTEM = "urn:ietf:rfc:3986"
STATUSES = ("booked", "cancelled", "fulfilled", "noshow")


@dataclass(frozen=True)
class Systems:
    """Our appointments' identifier system, and the legacy one of those booked before ``legacy_until``."""

    ours: str
    legacy_until: dt.datetime | None

    def identifier_of(self, booking_id: uuid.UUID, booked_at: dt.datetime) -> dict[str, str]:
        if self.legacy_until is not None and booked_at < self.legacy_until:
            return {"system": LEGACY_SYSTEM, "value": f"urn:uuid:{booking_id}"}
        return {"system": self.ours, "value": str(booking_id)}


_FIX = text("""INSERT INTO identifier_systems (name, system) VALUES ('appointment', :system)
               ON CONFLICT (name) DO NOTHING""")
_SYSTEMS = text("SELECT name, system, since FROM identifier_systems WHERE name IN ('appointment', 'legacy')")
_fixed: list[Systems] = []


async def systems(session: AsyncSession) -> Systems:
    """Our appointments' identifier system, fixed the first time (from SNP_PUBLIC_URL) and read ever after."""
    if _fixed:
        return _fixed[0]
    await session.execute(_FIX, {"system": get_settings().base_url + SYSTEM_PATH})
    rows = {row["name"]: row for row in (await session.execute(_SYSTEMS)).mappings()}
    legacy = rows.get("legacy")
    found = Systems(ours=rows["appointment"]["system"], legacy_until=legacy["since"] if legacy else None)
    _fixed[:] = [found]
    return found


def forget_systems() -> None:
    """Read the systems afresh (tests that empty the database)."""
    _fixed.clear()


def _ps_identifier(value: str) -> dict[str, Any]:
    return {"type": {"coding": [{"system": r.IDENTIFIER_TYPE, "code": "IDNPS"}]}, "system": r.PS_OID, "value": value}


def operator(national_id: str | None, technical_id: str | None) -> dict[str, Any] | None:
    """Who booked, as the platform knows him (its regulator accounts, INT_R02): his national id (IDNPS) as it
    gave it, else his SAS technical id (INTRN); None when the registry has neither (never one made up here)."""
    if national_id:
        identifier = _ps_identifier(national_id)
    elif technical_id:
        identifier = {"type": {"coding": [{"system": r.IDENTIFIER_TYPE, "code": "INTRN"}]},
                      "system": SAS_TECHNICAL_ID, "value": technical_id}
    else:
        return None
    return {"url": OPERATOR, "valueReference": {"identifier": identifier}}


def resource(appointment: projection.Appointment, systems: Systems) -> dict[str, Any]:
    """An appointment (app/outbox/appointments.py) as FrAppointmentSAS: no patient in it, as the guide has it."""
    body: dict[str, Any] = {"resourceType": "Appointment", "meta": {"profile": [PROFILE]}}
    who = operator(appointment.operator_id, appointment.operator_technical_id)
    if appointment.declared_operator is not None:  # declared to us: who booked as the declaration gave him
        system, value, code = appointment.declared_operator
        identifier: dict[str, Any] = {"system": system, "value": value}
        if code:
            identifier = {"type": {"coding": [{"system": r.IDENTIFIER_TYPE, "code": code}]}} | identifier
        who = {"url": OPERATOR, "valueReference": {"identifier": identifier}}
    if who is not None:  # the declarer never sends one without (app/fhir/declare.py parks it)
        body["extension"] = [who]
    return body | {
        "identifier": [systems.identifier_of(appointment.booking_id, appointment.created)],
        "status": appointment.status,
        "start": appointment.start.isoformat(), "end": appointment.end.isoformat(),
        "created": (appointment.declared_created or appointment.created).isoformat(),
        "participant": [{"actor": {"identifier": _ps_identifier(appointment.practitioner_id)}, "status": "accepted"}],
    }


# ------------------------------------------------------------------------------------------ received


class _Open(BaseModel):
    """A FHIR element: members we do not read are accepted and ignored; text never holds NUL."""

    model_config = ConfigDict(extra="allow")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class Coding(_Open):
    system: str | None = None
    code: str | None = None


class CodeableConcept(_Open):
    coding: list[Coding] = Field(default_factory=list)


class Identifier(_Open):
    system: str | None = Field(default=None, max_length=500)
    value: str | None = Field(default=None, max_length=200)
    type: CodeableConcept | None = None


class Reference(_Open):
    identifier: Identifier | None = None
    reference: str | None = None


class Participant(_Open):
    actor: Reference | None = None
    status: str | None = None


class Extension(_Open):
    url: str
    valueReference: Reference | None = None  # noqa: N815 - FHIR's name


class AppointmentIn(_Open):
    """The elements of a FrAppointmentSAS we read; the rest of the resource is accepted and ignored."""

    resourceType: Literal["Appointment"]  # noqa: N815 - FHIR's name
    id: str | None = Field(default=None, max_length=64, description="ours (an update by id names it twice)")
    identifier: list[Identifier] = Field(min_length=1, max_length=10)
    status: Literal["booked", "cancelled", "fulfilled", "noshow"] = Field(
        description="the statuses the SAS uses (others are refused)")
    created: AwareDatetime | None = Field(default=None, description="when it was booked, kept as given")
    start: AwareDatetime = Field(description="the slot's start, as published")
    end: AwareDatetime
    participant: list[Participant] = Field(min_length=1, max_length=20)
    extension: list[Extension] = Field(default_factory=list, max_length=50)


def declared_identifier(data: AppointmentIn) -> tuple[str, str]:
    identifier = data.identifier[0]
    if not identifier.system or not identifier.value:
        raise Unprocessable("identifier: system and value are required (FrAppointmentSAS)", field="identifier")
    return identifier.system, identifier.value


async def _practitioner(session: AsyncSession, data: AppointmentIn) -> Practitioner:
    """The practitioner the appointment's participant names by his national id: 8 + RPPS, or 0 + ADELI
    (the guide's "RPPS avec préfixe 8 ou ADELI avec préfixe 0")."""
    for index, participant in enumerate(data.participant):
        identifier = participant.actor.identifier if participant.actor else None
        if identifier and identifier.system == r.PS_OID and identifier.value:
            named = params.national_id(identifier.value)
            if named is None:
                raise Unprocessable(f"participant[{index}].actor.identifier: a practitioner's national id is 8 "
                                    "followed by his RPPS (11 digits), or 0 followed by his ADELI (9 characters)",
                                    field=f"participant[{index}].actor.identifier")
            registry, number = named
            column = Practitioner.rpps if registry == "rpps" else Practitioner.adeli
            practitioner = await session.scalar(select(Practitioner).where(column == number))
            if practitioner is None:
                raise Unprocessable(f"participant: no practitioner with {registry.upper()} {number} publishes here",
                                    field="participant")
            return practitioner
    raise Unprocessable("participant: the practitioner's national id (IDNPS, urn:oid:1.2.250.1.71.4.2.1) is required",
                        field="participant")


def _check_operator(data: AppointmentIn) -> Identifier:
    """Who booked (FrAppointmentOperator's identifier), kept as given."""
    for ext in data.extension:
        if ext.url == OPERATOR:
            ident = ext.valueReference.identifier if ext.valueReference else None
            if ident and ident.system and ident.value:
                return ident
    raise Unprocessable("extension: FrAppointmentOperator (who booked, with an identifier) is required",
                        field="extension")


def _key(system: str, value: str) -> str:
    return "fhir-appointment:" + hashlib.sha256(f"{system}|{value}".encode()).hexdigest()


async def receive(session: AsyncSession, statements: Statements, principal: Principal, data: AppointmentIn,
                  identifier: tuple[str, str] | None = None) -> tuple[uuid.UUID, bool]:
    """Apply a declared appointment; (booking id, created now)."""
    system, value = declared_identifier(data)
    if identifier is not None and identifier != (system, value):
        raise Unprocessable("identifier: the resource's identifier differs from the one of the request",
                            field="identifier")
    if data.end <= data.start:
        raise Unprocessable("end: must be after start", field="end")
    who = _check_operator(data)
    codes = [c.code for c in (who.type.coding if who.type else []) if c.code]
    kept: dict[str, Any] = {"operator_system": who.system, "operator_value": who.value,
            "operator_type": codes[0][:20] if codes else None, "declared_created": data.created}
    known = await session.scalar(select(DeclaredAppointment).where(
        DeclaredAppointment.system == system, DeclaredAppointment.value == value))
    if known is not None:
        if known.declared_by != principal.sub and not principal.is_admin:
            raise Forbidden("This appointment was declared by another agenda", field="identifier")
        await _apply(session, principal, known.booking_id, data)
        if (known.operator_system, known.operator_value) != (who.system, who.value) or (
                data.created is not None and known.declared_created != data.created):
            # An update may name who booked anew (the guide's update carries the whole resource).
            for column, given in kept.items():
                if given is not None or column != "declared_created":
                    setattr(known, column, given)
        return known.booking_id, False
    if data.status != "booked":
        raise Unprocessable(f"status: an appointment unknown here is declared booked first, not {data.status}",
                            field="status")
    practitioner = await _practitioner(session, data)
    if principal.role == "effector" and principal.practitioner_id != practitioner.id:
        raise Forbidden("An agenda declares the appointments of its own practitioner", field="participant")
    slot_id = await session.scalar(select(Slot.id).where(
        Slot.practitioner_id == practitioner.id, Slot.start_at == data.start, Slot.end_at == data.end,
        Slot.over_capacity.is_(False)))
    if slot_id is None:
        raise Unprocessable("start: the practitioner has no slot published here at this start and end",
                            field="start")
    await session.commit()  # the booking is one statement of its own (its own connection)
    booked = await bookings_service.book_declared(statements, principal, slot_id, _key(system, value))
    booking_id = uuid.UUID(booked.body["id"])
    await session.execute(insert(DeclaredAppointment).values(
        system=system, value=value, booking_id=booking_id, declared_by=principal.sub, **kept).on_conflict_do_nothing())
    log.info("appointment.declared", booking_id=str(booking_id), status="booked", replayed=booked.replayed)
    return booking_id, not booked.replayed


async def update(session: AsyncSession, statements: Statements, principal: Principal, booking_id: uuid.UUID,
                 data: AppointmentIn) -> None:
    """FHIR's update by id (``PUT /fhir/Appointment/{id}``, which our CapabilityStatement declares): an
    appointment declared to us, by our id, as the conditional update by its identifier does."""
    if data.id != str(booking_id):
        raise BadRequest("id: an update names the appointment's id in the resource as in the URL", field="id")
    known = await session.scalar(select(DeclaredAppointment).where(DeclaredAppointment.booking_id == booking_id))
    if known is None:
        raise NotFound(f"Appointment/{booking_id} was not declared here (POST declares a new one)")
    await receive(session, statements, principal, data, (known.system, known.value))


async def _apply(session: AsyncSession, principal: Principal, booking_id: uuid.UUID, data: AppointmentIn) -> None:
    status = data.status
    row = await bookings_repository.booking_with_slot(session, booking_id)
    if row is None:
        raise NotFound(f"Appointment {booking_id} not found")
    if (row["start_at"], row["end_at"]) != (data.start, data.end):
        if status != "booked":
            raise Unprocessable(f"start: a {status} appointment keeps its slot's time (a move is declared booked, "
                                "at the new time)", field="start")
        # Read again behind the call's lock: the same move sent at the same time may have just committed.
        await calls_repository.lock(session, row["call_id"])
        row = await bookings_repository.booking_with_slot(session, booking_id)
        if row is None:
            raise NotFound(f"Appointment {booking_id} not found")
        if (row["start_at"], row["end_at"]) != (data.start, data.end):
            await _move(session, principal, row, data)
            return
    if status == "booked":
        if row["status"] != "active":
            raise Conflict("The appointment was cancelled: it cannot be booked again", field="status")
        return
    if status == "cancelled":
        if row["status"] == "cancelled":
            return  # declared again: nothing changes twice
        await calls_repository.lock(session, row["call_id"])
        done = await bookings_repository.cancel(session, booking_id, sub=principal.sub, role=principal.role,
                                                reason="annulé dans l'agenda du médecin")
        if done is None:
            # Read again behind the call's lock: the same cancellation sent at the same time has just
            # committed (nothing to do twice), or the appointment has its outcome (a different change).
            now = await bookings_repository.booking_with_slot(session, booking_id)
            if now is not None and now["status"] == "cancelled":
                return
            raise Conflict("The appointment has its outcome already: it cannot be cancelled", field="status")
        await outbox.add_booking_event(session, booking_id, "booking.cancelled")
        log.info("appointment.declared", booking_id=str(booking_id), status=status)
        return
    if row["outcome"] == status:
        return
    if row["outcome"] is not None or row["status"] != "active":
        raise Conflict(f"The appointment is {row['outcome'] or row['status']} already", field="status")
    if not await bookings_repository.set_outcome(session, booking_id, row["practitioner_id"], status, None):
        now = await bookings_repository.booking_with_slot(session, booking_id)
        if now is not None and now["outcome"] == status:
            return  # the same outcome, sent at the same time, committed first
        if now is not None and (now["outcome"] is not None or now["status"] != "active"):
            raise Conflict(f"The appointment is {now['outcome'] or now['status']} already", field="status")
        raise Conflict("The appointment has not started yet: its outcome comes after its start", field="status")
    await outbox.add_booking_event(session, booking_id, "booking.outcome")
    log.info("appointment.declared", booking_id=str(booking_id), status=status)


async def _move(session: AsyncSession, principal: Principal, row: Any, data: AppointmentIn) -> None:
    """A booked appointment declared again at another time: its booking moves to the practitioner's slot
    published at that time, if it is free (409 otherwise); the appointment keeps its id and identifier."""
    if row["status"] != "active":
        raise Conflict("The appointment was cancelled: it cannot be moved (declare a new one)", field="status")
    if row["outcome"] is not None:
        raise Conflict(f"The appointment is {row['outcome']} already: it cannot be moved", field="status")
    practitioner_id = (await _practitioner(session, data)).id
    if practitioner_id != row["practitioner_id"]:
        raise Unprocessable("participant: a moved appointment stays with its practitioner (for another one, cancel "
                            "it and declare a new appointment)", field="participant")
    slot_id = await session.scalar(select(Slot.id).where(
        Slot.practitioner_id == practitioner_id, Slot.start_at == data.start, Slot.end_at == data.end,
        Slot.over_capacity.is_(False)))
    if slot_id is None:
        raise Unprocessable("start: the practitioner has no slot published here at the new start and end",
                            field="start")
    await bookings_service.move_declared(session, principal, row, slot_id)
    log.info("appointment.declared", booking_id=str(row["id"]), status="booked", moved=True)


async def read(session: AsyncSession, booking_id: uuid.UUID) -> dict[str, Any]:
    """A booking as FrAppointmentSAS (its status: booked, cancelled, or its outcome)."""
    row = (await projection.rows(session, [booking_id])).get(booking_id)
    if row is None:
        raise NotFound(f"Appointment {booking_id} not found")
    appointment = projection.as_it_stands(row)
    body = resource(appointment, await systems(session))
    body["id"] = str(appointment.booking_id)
    if appointment.declared is not None:
        system, value = appointment.declared
        body["identifier"] = [{"system": system, "value": value}]
    return body
