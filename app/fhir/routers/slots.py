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
from app.fhir import params, regulators, repository
from app.fhir import resources as r
from app.fhir.routers.common import FhirReaderDep, FhirResponse, base, booker, doc, here, scope
from app.http.dependencies import SessionDep
from app.platform.errors import BadRequest, NotFound
from app.users import accounts

router = APIRouter(prefix="/fhir", tags=["fhir"])


@router.get("/Slot", response_class=FhirResponse, operation_id="fhir_search_slots",
            responses=doc("A searchset Bundle (profile sas-cpts-bundle-aggregator)"))
async def search_slots(
    request: Request,
    session: SessionDep,
    principal: FhirReaderDep,
    identifier: Annotated[str, Query(
        alias="schedule.actor:Practitioner.identifier", pattern=params.IDENTIFIERS,
        description=f"1 to 25 national identifiers, comma-separated: {r.PS_OID}|8<RPPS> or "
                    f"{r.PS_OID}|0<ADELI>")],
    status: Annotated[Literal["free"], Query(description="free (the only status served)")],
    start: Annotated[list[str] | None, Query(
        description="ge<date> and le<date>: the window of the slots' start",
        json_schema_extra={"items": {"type": "string", "pattern": params.START.pattern}})] = None,
    include: Annotated[list[params.Include] | None, Query(alias="_include")] = None,
    include_iterate: Annotated[list[params.Include] | None, Query(alias="_include:iterate")] = None,
    count: Annotated[int, Query(
        alias="_count", ge=1, le=params.MAX_SLOTS,
        description=f"the most slots the answer may hold, 1 to {params.MAX_SLOTS} (default): one answer holds "
                    "every match, never a page; a search matching more is refused (400)")] = params.MAX_SLOTS,
) -> FhirResponse:
    """The guide's search of a CPTS's free slots by the national platform: one answer with every free
    slot it matches (the guide's Bundle has a single ``self`` link), or a refusal saying how many match."""
    wanted = params.includes(include, include_iterate)
    ge, le = params.window(start or [])
    ids = params.national_ids(identifier)
    seen, books = await scope(session, principal), booker(principal)
    rows = await repository.search(session, rpps=ids.rpps, adeli=ids.adeli, ge=ge, le=le, limit=count + 1,
                                   offset=0, scope=seen, booker=books) if ids else []
    if len(rows) > count:  # never cut silently: say how many match and how to narrow
        total = await repository.count(session, rpps=ids.rpps, adeli=ids.adeli, ge=ge, le=le, scope=seen,
                                       booker=books)
        raise BadRequest(f"{total} free slots match, more than the {count} one answer may hold "
                         f"(_count, at most {params.MAX_SLOTS}): narrow the start window or name fewer "
                         "practitioners", field="_count")
    url = base(request)
    entries = [r.entry(url, r.slot(row, url), "match") for row in rows]
    entries += [r.entry(url, resource, "include") for resource in r.included(rows, wanted)]
    return FhirResponse(r.bundle(here(request), entries, len(rows)))


@router.get("/Slot/{slot_id:uuid}", response_class=FhirResponse, operation_id="fhir_read_slot",
            responses=doc("A free Slot (profile sas-cpts-slot-aggregator)"))
async def read_slot(slot_id: uuid.UUID, request: Request, session: SessionDep,
                    principal: FhirReaderDep) -> FhirResponse:
    """A free slot; one booked, withdrawn, started or out of reach is 404."""
    row = await repository.slot(session, slot_id, await scope(session, principal), booker(principal))
    if row is None:
        raise NotFound(f"Slot/{slot_id} is not a free slot here")
    return FhirResponse(r.slot(row, base(request)))


async def _role(session: SessionDep, principal: Principal, kind: str, rid: str) -> Any:
    """The practitioner at a site a Schedule or PractitionerRole id names, if the user sees it; else 404."""
    ids = r.split_role_id(rid)
    row = None if ids is None else await repository.role(session, ids[0], ids[1], await scope(session, principal))
    if row is None:
        raise NotFound(f"{kind}/{rid} not found")
    return row


@router.get("/Schedule", response_class=FhirResponse, operation_id="fhir_search_schedules",
            responses=doc("A searchset Bundle of Schedule (profile FrScheduleAgregateur)"))
async def search_schedules(
    request: Request, session: SessionDep, principal: FhirReaderDep,
    actor: Annotated[str | None, Query(pattern=params.ACTOR, description=(
        "Practitioner/<id> (his Schedules: one per site) or PractitionerRole/<id>"))] = None,
    actor_identifier: Annotated[str | None, Query(
        alias="actor:Practitioner.identifier", pattern=params.IDENTIFIERS,
        description=f"1 to 25 national identifiers, comma-separated: {r.PS_OID}|8<RPPS> or "
                    f"{r.PS_OID}|0<ADELI>")] = None,
) -> FhirResponse:
    """The Schedules of practitioners (the guide's CapabilityStatement SAS-GestionnaireAgenda-CPTS: search
    by actor): a practitioner's, one per site where he has slots, named by id or by national identifier."""
    if (actor is None) == (actor_identifier is None):
        raise BadRequest("give one of actor (Practitioner/<id>, PractitionerRole/<id>) or "
                         "actor:Practitioner.identifier", field="actor")
    named = params.actor(actor) if actor is not None else None
    ids = None if actor_identifier is None else params.national_ids(actor_identifier,
                                                                     "actor:Practitioner.identifier")
    rows = [] if (actor is not None and named is None) or (ids is not None and not ids) else await repository.schedules(
        session, rpps=ids.rpps if ids else None, adeli=ids.adeli if ids else None,
        practitioner_id=named[0] if named else None, site_id=named[1] if named else None,
        scope=await scope(session, principal))
    url = base(request)
    entries = [r.entry(url, r.schedule(row["practitioner_id"], row["site_id"]), "match") for row in rows]
    return FhirResponse(r.bundle(here(request), entries, len(rows), slots=False))


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


async def _cpts(session: SessionDep, principal: Principal, kind: str, code: str) -> Any:
    """A CPTS whose FINESS is known, if the user sees it (the id of its HealthcareService and its
    Organization is its territory code); else 404."""
    row = await repository.cpts(session, code, await scope(session, principal))
    if row is None:
        raise NotFound(f"{kind}/{code} not found")
    return row


@router.get("/HealthcareService/{service_id}", response_class=FhirResponse,
            operation_id="fhir_read_healthcare_service",
            responses=doc("A CPTS's HealthcareService (profile sas-cpts-healthcareservice-aggregator)"))
async def read_healthcare_service(
    service_id: Annotated[str, Path(pattern=params.ID)], session: SessionDep, principal: FhirReaderDep
) -> FhirResponse:
    """What a Slot's serviceType extension and an included HealthcareService's fullUrl name."""
    return FhirResponse(r.healthcare_service(await _cpts(session, principal, "HealthcareService", service_id)))


@router.get("/Organization/{organization_id}", response_class=FhirResponse, operation_id="fhir_read_organization",
            responses=doc("A CPTS's Organization (profile sas-cpts-organization-aggregator)"))
async def read_organization(
    organization_id: Annotated[str, Path(pattern=params.ID)], session: SessionDep, principal: FhirReaderDep
) -> FhirResponse:
    """What a HealthcareService's providedBy and an included Organization's fullUrl name."""
    return FhirResponse(r.organization(await _cpts(session, principal, "Organization", organization_id)))


@router.get("/Practitioner", response_class=FhirResponse, operation_id="fhir_search_practitioners",
            responses=doc("A searchset Bundle of Practitioner (profile FrPractitionerAgregateur)"))
async def search_practitioners(
    request: Request, session: SessionDep, principal: FhirReaderDep,
    identifier: Annotated[str | None, Query(description=f"{r.PS_OID}|8<RPPS> or {r.PS_OID}|0<ADELI>, comma-separated",
                                            pattern=params.IDENTIFIERS)] = None,
) -> FhirResponse:
    ids = params.national_ids(identifier) if identifier is not None else None
    rows = [] if ids is not None and not ids else await repository.practitioners(
        session, rpps=ids.rpps if ids else None, adeli=ids.adeli if ids else None, practitioner_id=None,
        scope=await scope(session, principal))
    url = base(request)
    entries = [r.entry(url, r.practitioner(row), "match") for row in rows]
    return FhirResponse(r.bundle(here(request), entries, len(rows), slots=False))


@router.get("/Practitioner/{practitioner_id:uuid}", response_class=FhirResponse, operation_id="fhir_read_practitioner",
            responses=doc("A Practitioner: a practitioner publishing slots (profile FrPractitionerAgregateur), or "
                          "for the platform and an administrator a regulator account (FrPractitionerRegul)"))
async def read_practitioner(practitioner_id: uuid.UUID, session: SessionDep, principal: FhirReaderDep) -> FhirResponse:
    """A practitioner publishing slots here; for the national platform and an administrator, also a
    regulator account (what the ``Location`` of ``POST /fhir/Practitioner`` names)."""
    rows = await repository.practitioners(session, rpps=None, adeli=None, practitioner_id=practitioner_id,
                                          scope=await scope(session, principal))
    if rows:
        return FhirResponse(r.practitioner(rows[0]))
    account = await accounts.regulator(session, practitioner_id) if principal.role in ("platform", "admin") else None
    if account is None:
        raise NotFound(f"Practitioner/{practitioner_id} not found")
    return FhirResponse(regulators.resource(account))
