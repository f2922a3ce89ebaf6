"""The FHIR facade of a "gestionnaire d'agenda CPTS" (ANS guide "Service d'Accès aux Soins",
ans.fhir.fr.sas 1.2.0, R4): the national platform searches our free SNP slots of the practitioners it
names, with the includes the guide lists, and reads them one by one, with their Schedules,
PractitionerRoles and Practitioners. Answers are ``application/fhir+json``; errors are OperationOutcome
resources (app/http/errors.py)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request

from app.auth.principal import Principal
from app.fhir import params, repository
from app.fhir import resources as r
from app.fhir.routers.common import FhirReaderDep, FhirResponse, base, booker, doc, here, scope
from app.http.dependencies import SessionDep
from app.platform.errors import NotFound

router = APIRouter(prefix="/fhir", tags=["fhir"])


@router.get("/Slot", response_class=FhirResponse, operation_id="fhir_search_slots",
            responses=doc("A searchset Bundle (profile sas-cpts-bundle-aggregator)"))
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
                                   scope=await scope(session, principal), booker=booker(principal)) if rpps else []
    page, more = rows[:count], len(rows) > count
    total = (offset + len(page) if not more else await repository.count(
        session, rpps=rpps, ge=ge, le=le, scope=await scope(session, principal), booker=booker(principal)))
    url = base(request)
    entries = [r.entry(url, r.slot(row), "match") for row in page]
    entries += [r.entry(url, resource, "include") for resource in r.included(page, wanted)]
    next_url = here(request, _offset=offset + count) if more else None
    return FhirResponse(r.bundle(here(request), entries, total, next_url))


@router.get("/Slot/{slot_id:uuid}", response_class=FhirResponse, operation_id="fhir_read_slot",
            responses=doc("A free Slot (profile sas-cpts-slot-aggregator)"))
async def read_slot(slot_id: uuid.UUID, session: SessionDep, principal: FhirReaderDep) -> FhirResponse:
    """A free slot; one booked, withdrawn, started or out of reach is 404."""
    row = await repository.slot(session, slot_id, await scope(session, principal), booker(principal))
    if row is None:
        raise NotFound(f"Slot/{slot_id} is not a free slot here")
    return FhirResponse(r.slot(row))


async def _role(session: SessionDep, principal: Principal, kind: str, rid: str) -> Any:
    """The practitioner at a site a Schedule or PractitionerRole id names, if the user sees it; else 404."""
    ids = r.split_role_id(rid)
    row = None if ids is None else await repository.role(session, ids[0], ids[1], await scope(session, principal))
    if row is None:
        raise NotFound(f"{kind}/{rid} not found")
    return row


@router.get("/Schedule/{schedule_id}", response_class=FhirResponse, operation_id="fhir_read_schedule",
            responses=doc("A Schedule (profile FrScheduleAgregateur): a practitioner at a site"))
async def read_schedule(
    schedule_id: Annotated[str, Path(pattern=params.ID)], session: SessionDep, principal: FhirReaderDep
) -> FhirResponse:
    row = await _role(session, principal, "Schedule", schedule_id)
    return FhirResponse(r.schedule(row["practitioner_id"], row["site_id"]))


@router.get("/PractitionerRole/{role_id}", response_class=FhirResponse, operation_id="fhir_read_practitioner_role",
            responses=doc("A PractitionerRole (profile FrPractitionerRoleExerciceAgregateur), its site contained"))
async def read_practitioner_role(
    role_id: Annotated[str, Path(pattern=params.ID)], session: SessionDep, principal: FhirReaderDep
) -> FhirResponse:
    return FhirResponse(r.practitioner_role(await _role(session, principal, "PractitionerRole", role_id)))


@router.get("/Practitioner", response_class=FhirResponse, operation_id="fhir_search_practitioners",
            responses=doc("A searchset Bundle of Practitioner (profile FrPractitionerAgregateur)"))
async def search_practitioners(
    request: Request, session: SessionDep, principal: FhirReaderDep,
    identifier: Annotated[str | None, Query(description=f"{r.PS_OID}|8<RPPS>, comma-separated",
                                            pattern=params.IDENTIFIERS)] = None,
) -> FhirResponse:
    rpps = params.rpps(identifier) if identifier is not None else None
    rows = [] if rpps == [] else await repository.practitioners(
        session, rpps=rpps, practitioner_id=None, scope=await scope(session, principal))
    url = base(request)
    entries = [r.entry(url, r.practitioner(row), "match") for row in rows]
    return FhirResponse(r.bundle(here(request), entries, len(rows), None, slots=False))


@router.get("/Practitioner/{practitioner_id:uuid}", response_class=FhirResponse, operation_id="fhir_read_practitioner",
            responses=doc("A Practitioner (profile FrPractitionerAgregateur)"))
async def read_practitioner(practitioner_id: uuid.UUID, session: SessionDep, principal: FhirReaderDep) -> FhirResponse:
    rows = await repository.practitioners(session, rpps=None, practitioner_id=practitioner_id,
                                          scope=await scope(session, principal))
    if not rows:
        raise NotFound(f"Practitioner/{practitioner_id} not found")
    return FhirResponse(r.practitioner(rows[0]))
