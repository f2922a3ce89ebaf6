"""The FHIR facade of a "gestionnaire d'agenda CPTS" (ANS guide "Service d'Accès aux Soins",
ans.fhir.fr.sas 1.2.0, R4): the national platform searches our free SNP slots of the practitioners it
names, with the includes the guide lists, and reads them one by one. Answers are
``application/fhir+json``; errors are OperationOutcome resources (app/http/errors.py)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from app.auth.dependencies import require_roles
from app.auth.principal import Principal
from app.fhir import appointments, bulk, params, repository
from app.fhir import resources as r
from app.http.dependencies import SessionDep, StatementsDep
from app.http.errors import error_responses
from app.platform.errors import NotFound
from app.slots import bookers
from app.territories import service as territory_service
from app.territories.repository import scope_params

router = APIRouter(prefix="/fhir", tags=["fhir"])
FhirReaderDep = Annotated[Principal, Depends(require_roles("platform", "operator", "regulator", "urgences", "admin"))]

FHIR_JSON = "application/fhir+json"


class FhirResponse(JSONResponse):
    media_type = FHIR_JSON


def _doc(description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {FHIR_JSON: {"schema": {"type": "object"}}}, "description": description},
            **error_responses(400, 401, 403, 404)}


async def _scope(session: SessionDep, principal: Principal) -> dict[str, Any]:
    visible = await territory_service.visible_codes(session, principal)
    return scope_params(None if visible is None else sorted(visible))


def _booker(principal: Principal) -> dict[str, Any]:
    return bookers.params(principal.role, principal.territories)


def _base(request: Request) -> str:
    """Where our absolute URLs start: SNP_PUBLIC_URL, never the request's Host."""
    base: str = request.app.state.settings.base_url
    return base


def _here(request: Request, **params: Any) -> str:
    """This request's URL under our public address (with ``params`` replaced)."""
    url = request.url.include_query_params(**params) if params else request.url
    return f"{_base(request)}{url.path}" + (f"?{url.query}" if url.query else "")


@router.get("/Slot", response_class=FhirResponse, operation_id="fhir_search_slots",
            responses=_doc("A searchset Bundle (profile sas-cpts-bundle-aggregator)"))
async def search_slots(
    request: Request,
    session: SessionDep,
    principal: FhirReaderDep,
    identifier: Annotated[str, Query(
        alias="schedule.actor:Practitioner.identifier", pattern=params.IDENTIFIERS,
        description=f"1 to 25 national identifiers, comma-separated: {r.PS_OID}|8<RPPS>")],
    status: Annotated[Literal["free"], Query(description="free (the only status served)")],
    start: Annotated[list[str] | None, Query(
        description="ge<date> and le<date>: the window of the slots' start",
        json_schema_extra={"items": {"type": "string", "pattern": params.START.pattern}})] = None,
    include: Annotated[list[params.Include] | None, Query(alias="_include")] = None,
    include_iterate: Annotated[list[params.Include] | None, Query(alias="_include:iterate")] = None,
    count: Annotated[int, Query(alias="_count", ge=1, le=500)] = 100,
    offset: Annotated[int, Query(alias="_offset", ge=0, le=100_000)] = 0,
) -> FhirResponse:
    """The guide's search of a CPTS's free slots by the national platform."""
    wanted = params.includes(include, include_iterate)
    ge, le = params.window(start or [])
    rpps = params.rpps(identifier)
    rows = await repository.search(session, rpps=rpps, ge=ge, le=le, limit=count + 1, offset=offset,
                                   scope=await _scope(session, principal), booker=_booker(principal)) if rpps else []
    page, more = rows[:count], len(rows) > count
    total = (offset + len(page) if not more else await repository.count(
        session, rpps=rpps, ge=ge, le=le, scope=await _scope(session, principal), booker=_booker(principal)))
    base = _base(request)
    entries = [r.entry(base, r.slot(row), "match") for row in page]
    entries += [r.entry(base, resource, "include") for resource in r.included(page, wanted)]
    next_url = _here(request, _offset=offset + count) if more else None
    return FhirResponse(r.bundle(_here(request), entries, total, next_url))


@router.get("/Slot/{slot_id:uuid}", response_class=FhirResponse, operation_id="fhir_read_slot",
            responses=_doc("A free Slot (profile sas-cpts-slot-aggregator)"))
async def read_slot(slot_id: uuid.UUID, session: SessionDep, principal: FhirReaderDep) -> FhirResponse:
    """A free slot; one booked, withdrawn, started or out of reach is 404."""
    row = await repository.slot(session, slot_id, await _scope(session, principal), _booker(principal))
    if row is None:
        raise NotFound(f"Slot/{slot_id} is not a free slot here")
    return FhirResponse(r.slot(row))


async def _role(session: SessionDep, principal: Principal, kind: str, rid: str) -> Any:
    """The practitioner at a site a Schedule or PractitionerRole id names, if the user sees it; else 404."""
    ids = r.split_role_id(rid)
    row = None if ids is None else await repository.role(session, ids[0], ids[1], await _scope(session, principal))
    if row is None:
        raise NotFound(f"{kind}/{rid} not found")
    return row


@router.get("/Schedule/{schedule_id}", response_class=FhirResponse, operation_id="fhir_read_schedule",
            responses=_doc("A Schedule (profile FrScheduleAgregateur): a practitioner at a site"))
async def read_schedule(
    schedule_id: Annotated[str, Path(pattern=params.ID)], session: SessionDep, principal: FhirReaderDep
) -> FhirResponse:
    row = await _role(session, principal, "Schedule", schedule_id)
    return FhirResponse(r.schedule(row["practitioner_id"], row["site_id"]))


@router.get("/PractitionerRole/{role_id}", response_class=FhirResponse, operation_id="fhir_read_practitioner_role",
            responses=_doc("A PractitionerRole (profile FrPractitionerRoleExerciceAgregateur), its site contained"))
async def read_practitioner_role(
    role_id: Annotated[str, Path(pattern=params.ID)], session: SessionDep, principal: FhirReaderDep
) -> FhirResponse:
    return FhirResponse(r.practitioner_role(await _role(session, principal, "PractitionerRole", role_id)))


@router.get("/Practitioner", response_class=FhirResponse, operation_id="fhir_search_practitioners",
            responses=_doc("A searchset Bundle of Practitioner (profile FrPractitionerAgregateur)"))
async def search_practitioners(
    request: Request, session: SessionDep, principal: FhirReaderDep,
    identifier: Annotated[str | None, Query(description=f"{r.PS_OID}|8<RPPS>, comma-separated",
                                            pattern=params.IDENTIFIERS)] = None,
) -> FhirResponse:
    rpps = params.rpps(identifier) if identifier is not None else None
    rows = [] if rpps == [] else await repository.practitioners(
        session, rpps=rpps, practitioner_id=None, scope=await _scope(session, principal))
    base = _base(request)
    entries = [r.entry(base, r.practitioner(row), "match") for row in rows]
    return FhirResponse(r.bundle(_here(request), entries, len(rows), None, slots=False))


@router.get("/Practitioner/{practitioner_id:uuid}", response_class=FhirResponse, operation_id="fhir_read_practitioner",
            responses=_doc("A Practitioner (profile FrPractitionerAgregateur)"))
async def read_practitioner(practitioner_id: uuid.UUID, session: SessionDep, principal: FhirReaderDep) -> FhirResponse:
    rows = await repository.practitioners(session, rpps=None, practitioner_id=practitioner_id,
                                          scope=await _scope(session, principal))
    if not rows:
        raise NotFound(f"Practitioner/{practitioner_id} not found")
    return FhirResponse(r.practitioner(rows[0]))


@router.get("/metadata", response_class=FhirResponse, operation_id="fhir_metadata",
            responses=_doc("The CapabilityStatement of what this server serves"))
async def metadata(request: Request) -> FhirResponse:
    """What we serve, as a CapabilityStatement (public, as FHIR servers do)."""
    return FhirResponse(r.capability_statement(_base(request) + "/fhir"))


# ------------------------------------------------------------------------------------------ appointments
# Agenda software (with its practitioner's token) and national systems (role platform) declare the
# appointments they made on slots published here (FrAppointmentSAS: create, conditional update).
DeclarerDep = Annotated[Principal, Depends(require_roles("effector", "platform", "admin"))]


def _appointment_doc(description: str, code: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"content": {FHIR_JSON: {"schema": {"type": "object"}}}, "description": description},
            **error_responses(400, 401, 403, 404, 409, 422)}


def _declared(booking_id: uuid.UUID, body: dict[str, Any], status_code: int, request: Request) -> FhirResponse:
    location = f"{_base(request)}/fhir/Appointment/{booking_id}"
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
    """Conditional update by identifier: cancelled, fulfilled or noshow (an unknown identifier declared
    booked is created, as the guide's updateCreate allows)."""
    booking_id, created = await appointments.receive(session, statements, principal, data,
                                                     params.appointment_identifier(identifier))
    return _declared(booking_id, await appointments.read(session, booking_id), 201 if created else 200, request)


@router.get("/Appointment/{appointment_id:uuid}", response_class=FhirResponse, operation_id="fhir_read_appointment",
            responses=_doc("An appointment (profile FrAppointmentSAS)"))
async def read_appointment(appointment_id: uuid.UUID, session: SessionDep, principal: DeclarerDep) -> FhirResponse:
    """An appointment of our slots: the national systems read any, a practitioner's agenda its own."""
    body = await appointments.read(session, appointment_id)
    if principal.role == "effector":
        owner = await repository.practitioner_of_booking(session, appointment_id)
        if owner != principal.practitioner_id:
            raise NotFound(f"Appointment/{appointment_id} not found")
    return FhirResponse(body)


# ------------------------------------------------------------------------------ SMART Scheduling Links
NDJSON = "application/fhir+ndjson"


async def _publication(request: Request, session: SessionDep, principal: Principal) -> bulk.Publication:
    """The caller's scope's publication, from this instance's cache (app.state)."""
    visible = await territory_service.visible_codes(session, principal)
    codes = None if visible is None else sorted(visible)
    cache: dict[bulk.Key, bulk.Publication] = request.app.state.__dict__.setdefault("bulk_publications", {})
    return await bulk.publication(session, cache, request.app.state.settings, codes=codes,
                                  bookers=_booker(principal)["bookers"])


def _not_modified(request: Request, etag: str) -> bool:
    wanted = request.headers.get("if-none-match", "")
    return etag in [t.strip() for t in wanted.split(",")] or wanted.strip() == "*"


@router.get("/$bulk-publish", operation_id="fhir_bulk_publish", response_class=JSONResponse, responses={
    200: {"description": "The SMART Scheduling Links manifest of the caller's départements",
          "content": {"application/json": {"schema": {"type": "object"}}}},
    304: {"description": "Unchanged since the ETag given in If-None-Match"}, **error_responses(401, 403)})
async def bulk_publish(request: Request, session: SessionDep, principal: FhirReaderDep) -> Response:
    """SMART Scheduling Links: the manifest of the free SNP capacity of my territories (one Location,
    Schedule and Slot file per département), with an ETag; never anonymous."""
    publication = await _publication(request, session, principal)
    headers = {"ETag": publication.etag, "Cache-Control": "private, no-cache"}
    if _not_modified(request, publication.etag):
        return Response(status_code=304, headers=headers)
    return JSONResponse(bulk.manifest(publication, _base(request)), headers=headers)


@router.get("/$bulk-publish/{departement}/{kind}.ndjson", operation_id="fhir_bulk_publish_file",
            response_class=Response, responses={
                200: {"description": "One resource per line", "content": {NDJSON: {"schema": {"type": "string"}}}},
                304: {"description": "Unchanged since the ETag given in If-None-Match"},
                **error_responses(401, 403, 404)})
async def bulk_publish_file(
    request: Request, session: SessionDep, principal: FhirReaderDep,
    departement: Annotated[str, Path(pattern=r"^[0-9][0-9AB][0-9]?$")],
    kind: Literal["locations", "schedules", "slots"],
) -> Response:
    """A file of the manifest: the Locations (sites), Schedules (a site and a mode) or Slots of a
    département of my territories."""
    publication = await _publication(request, session, principal)
    found = publication.files.get((departement, kind))
    if found is None:
        raise NotFound(f"No publication for département {departement} in your territories")
    headers = {"ETag": found.etag, "Cache-Control": "private, no-cache"}
    if _not_modified(request, found.etag):
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type=NDJSON, headers=headers)
