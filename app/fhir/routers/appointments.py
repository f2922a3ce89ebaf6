"""Appointments declared to us: agenda software (with its practitioner's token) and national systems
(role platform) declare the appointments they made on slots published here (FrAppointmentSAS: create,
conditional update), and read them back (app/fhir/appointments.py)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from app.auth.dependencies import require_roles
from app.auth.principal import Principal
from app.fhir import appointments, params, repository
from app.fhir.routers.common import FHIR_JSON, FhirResponse, FhirRoute, base, doc
from app.http.dependencies import SessionDep, StatementsDep
from app.http.errors import error_responses
from app.platform.errors import NotFound

router = APIRouter(prefix="/fhir", tags=["fhir"], route_class=FhirRoute)
DeclarerDep = Annotated[Principal, Depends(require_roles("effector", "platform", "admin"))]


def _appointment_doc(description: str, code: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"content": {FHIR_JSON: {"schema": {"type": "object"}}}, "description": description},
            **error_responses(400, 401, 403, 404, 409, 422)}


def _declared(booking_id: uuid.UUID, body: dict[str, Any], status_code: int, request: Request) -> FhirResponse:
    location = f"{base(request)}/fhir/Appointment/{booking_id}"
    return FhirResponse(body, status_code=status_code, headers={"Location": location})


@router.post("/Appointment", response_class=FhirResponse, status_code=201, operation_id="fhir_create_appointment",
             responses=_appointment_doc("The appointment, booked on the practitioner's slot (Location: its id)", 201))
async def create_appointment(request: Request, data: appointments.AppointmentIn, session: SessionDep,
                             statements: StatementsDep, principal: DeclarerDep) -> FhirResponse:
    """Declare an appointment made on a slot published here (FrAppointmentSAS, status booked): the slot is
    booked by the one booking statement (409 when it holds another patient). The same identifier sent
    again changes nothing (200)."""
    booking_id, created = await appointments.receive(session, statements, principal, data)
    return _declared(booking_id, await appointments.read(session, booking_id), 201 if created else 200, request)


@router.put("/Appointment", response_class=FhirResponse, operation_id="fhir_update_appointment",
            responses=_appointment_doc("The appointment as it now stands", 200))
async def update_appointment(
    request: Request, data: appointments.AppointmentIn, session: SessionDep, statements: StatementsDep,
    principal: DeclarerDep,
    identifier: Annotated[str, Query(pattern=params.APPOINTMENT_IDENTIFIER,
                                     description="system|value of the appointment")],
) -> FhirResponse:
    """Conditional update by identifier: cancelled, fulfilled or noshow; booked at another time, the booking
    moves to the practitioner's slot at that time if it is free (409 otherwise). An unknown identifier
    declared booked is created, as the guide's updateCreate allows."""
    booking_id, created = await appointments.receive(session, statements, principal, data,
                                                     params.appointment_identifier(identifier))
    return _declared(booking_id, await appointments.read(session, booking_id), 201 if created else 200, request)


@router.put("/Appointment/{appointment_id:uuid}", response_class=FhirResponse,
            operation_id="fhir_update_appointment_by_id",
            responses=_appointment_doc("The appointment as it now stands", 200))
async def update_appointment_by_id(request: Request, appointment_id: uuid.UUID, data: appointments.AppointmentIn,
                                   session: SessionDep, statements: StatementsDep,
                                   principal: DeclarerDep) -> FhirResponse:
    """Update by id (the resource's ``id`` is the URL's), as the conditional update by identifier:
    cancelled, fulfilled or noshow, or booked at another time (a move); an appointment not declared here
    is 404."""
    await appointments.update(session, statements, principal, appointment_id, data)
    return _declared(appointment_id, await appointments.read(session, appointment_id), 200, request)


@router.get("/Appointment/{appointment_id:uuid}", response_class=FhirResponse, operation_id="fhir_read_appointment",
            responses=doc("An appointment (profile FrAppointmentSAS)"))
async def read_appointment(appointment_id: uuid.UUID, session: SessionDep, principal: DeclarerDep) -> FhirResponse:
    """An appointment of our slots: the national systems read any, a practitioner's agenda its own."""
    body = await appointments.read(session, appointment_id)
    if principal.role == "effector":
        owner = await repository.practitioner_of_booking(session, appointment_id)
        if owner != principal.practitioner_id:
            raise NotFound(f"Appointment/{appointment_id} not found")
    return FhirResponse(body)
