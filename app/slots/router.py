from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from app.auth.dependencies import EffectorDep, require_roles
from app.auth.principal import Principal
from app.http.dependencies import SessionDep, SettingsDep
from app.http.errors import error_responses
from app.http.routes import POLICIES
from app.http.schemas import AwareDatetime
from app.platform.errors import PayloadTooLarge, Unprocessable, UnsupportedMediaType
from app.slots import availability, participation, service
from app.slots.schemas import (
    Audience,
    BulkResult,
    ExtendResult,
    IcsImportResult,
    Mode,
    Participation,
    RuleCreate,
    RuleRead,
    RuleUpdate,
    RuleWritten,
    SlotBulk,
    SlotCreate,
    SlotRead,
    State,
)

router = APIRouter(tags=["slots"])
participation_router = APIRouter(prefix="/v1/practitioners", tags=["participation"])

RULES = "/v1/availability-rules"
MAX_ICS_BYTES = POLICIES[("POST", "/v1/slots/import-ics")].body_bytes
EvidenceReaderDep = Annotated[Principal, Depends(require_roles("effector", "analyst", "admin"))]


@router.post("/v1/slots", status_code=201, response_model=SlotRead, operation_id="publish_slot",
             responses=error_responses(401, 403, 409, 422))
async def publish_slot(
    data: SlotCreate, session: SessionDep, principal: EffectorDep, settings: SettingsDep
) -> SlotRead:
    """Open one SNP slot; an overlap with another of the doctor's live slots is a 409 naming it."""
    return SlotRead.model_validate(await service.create(session, principal, data, settings))


@router.post("/v1/slots/bulk", status_code=201, response_model=BulkResult, operation_id="publish_slots_bulk",
             responses=error_responses(401, 403, 409, 422))
async def publish_slots_bulk(
    data: SlotBulk, session: SessionDep, principal: EffectorDep, settings: SettingsDep
) -> BulkResult:
    """Open up to 5000 slots at once, all or nothing; a refusal lists each rejected item's index and reason."""
    return await service.bulk(session, principal, data.slots, settings)


@router.post(
    "/v1/slots/import-ics", status_code=201, response_model=IcsImportResult, operation_id="import_slots_ics",
    responses=error_responses(401, 403, 409, 413, 415, 422),
    openapi_extra={"requestBody": {"required": True, "content": {"text/calendar": {"schema": {"type": "string"}}}}},
)
async def import_slots_ics(
    request: Request,
    session: SessionDep,
    principal: EffectorDep,
    settings: SettingsDep,
    site_id: uuid.UUID,
    mode: Mode = "in_person",
    audience: Audience = "all",
    slot_minutes: Annotated[int | None, Query(ge=5, le=720, description="Cut each event into slots of this length")]
    = None,
    practitioner_id: uuid.UUID | None = None,
) -> IcsImportResult:
    """Publish the SNP events of an iCalendar body (text/calendar), all or nothing; re-importing is a no-op."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("text/calendar", ""):
        raise UnsupportedMediaType(f"Send the calendar as text/calendar (got {kind})", field="Content-Type")
    body = await _read_limited(request)
    return await service.import_ics(
        session, principal, body, practitioner_id=practitioner_id, site_id=site_id, mode=mode, audience=audience,
        slot_minutes=slot_minutes, settings=settings,
    )


async def _read_limited(request: Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_ICS_BYTES:
            raise PayloadTooLarge(f"The calendar is larger than {MAX_ICS_BYTES // (1024 * 1024)} MB", field="body")
        chunks.append(chunk)
    if size == 0:
        raise Unprocessable("Send the calendar as the request body (Content-Type: text/calendar)", field="body")
    return b"".join(chunks)


@router.get("/v1/slots", response_model=list[SlotRead], operation_id="list_my_slots",
            responses=error_responses(401, 403, 422))
async def list_my_slots(
    session: SessionDep,
    principal: EffectorDep,
    mine: bool = True,
    practitioner_id: Annotated[uuid.UUID | None, Query(description="Admins: whose slots")] = None,
    start_from: Annotated[AwareDatetime | None, Query(alias="from", description="Slots starting at or after")] = None,
    start_to: Annotated[AwareDatetime | None, Query(alias="to", description="Slots starting before")] = None,
    state: State | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[SlotRead]:
    """The doctor's own slots, soonest first, each with its state (free, held, booked, withdrawn, past)."""
    if not mine:
        raise Unprocessable("Only mine=true is served here; regulators search with /v1/slots/search", field="mine")
    rows = await service.list_mine(session, principal, practitioner_id, start_from=start_from, start_to=start_to,
                                   state=state, limit=limit, offset=offset)
    return [SlotRead.model_validate(r) for r in rows]


@router.get("/v1/slots/{slot_id:uuid}", response_model=SlotRead, operation_id="get_my_slot",
            responses=error_responses(401, 403, 404))
async def get_my_slot(slot_id: uuid.UUID, session: SessionDep, principal: EffectorDep) -> SlotRead:
    """One of the doctor's slots with its state."""
    return SlotRead.model_validate(await service.get(session, principal, slot_id))


@router.delete("/v1/slots/{slot_id:uuid}", response_model=SlotRead, operation_id="withdraw_slot",
               responses=error_responses(401, 403, 404, 409))
async def withdraw_slot(slot_id: uuid.UUID, session: SessionDep, principal: EffectorDep) -> SlotRead:
    """Withdraw a free slot (kept for history); a booked or currently held slot is a 409."""
    return SlotRead.model_validate(await service.withdraw(session, principal, slot_id))


# --- availability rules ---------------------------------------------------------------------

@router.post(RULES, status_code=201, response_model=RuleWritten, operation_id="create_availability_rule",
             tags=["availability rules"], responses=error_responses(401, 403, 409, 422))
async def create_availability_rule(
    data: RuleCreate, session: SessionDep, principal: EffectorDep, settings: SettingsDep
) -> RuleWritten:
    """Recurring availability in the site's local time, expanded into slots up to the publishing horizon."""
    return await availability.create(session, principal, data, settings)


@router.get(RULES, response_model=list[RuleRead], operation_id="list_availability_rules",
            tags=["availability rules"], responses=error_responses(401, 403, 422))
async def list_availability_rules(
    session: SessionDep,
    principal: EffectorDep,
    practitioner_id: Annotated[uuid.UUID | None, Query(description="Admins: whose rules")] = None,
    include_ended: bool = False,
) -> list[RuleRead]:
    """The doctor's recurring availabilities."""
    return await availability.list_(session, principal, practitioner_id, active_only=not include_ended)


@router.post(f"{RULES}/extend", response_model=ExtendResult, operation_id="extend_availability_rules",
             tags=["availability rules"], responses=error_responses(401, 403))
async def extend_availability_rules(session: SessionDep, principal: EffectorDep, settings: SettingsDep) -> ExtendResult:
    """Generate the slots of active rules up to today's horizon (yours, or every rule for an admin)."""
    return await availability.extend(session, principal, settings)


@router.get(f"{RULES}/{{rule_id:uuid}}", response_model=RuleRead, operation_id="get_availability_rule",
            tags=["availability rules"], responses=error_responses(401, 403, 404))
async def get_availability_rule(rule_id: uuid.UUID, session: SessionDep, principal: EffectorDep) -> RuleRead:
    """One recurring availability."""
    return await availability.get(session, principal, rule_id)


@router.patch(f"{RULES}/{{rule_id:uuid}}", response_model=RuleWritten, operation_id="update_availability_rule",
              tags=["availability rules"], responses=error_responses(401, 403, 404, 409, 422))
async def update_availability_rule(
    rule_id: uuid.UUID, data: RuleUpdate, session: SessionDep, principal: EffectorDep, settings: SettingsDep
) -> RuleWritten:
    """Change a rule: its future free slots are withdrawn and generated again; booked and held ones stay."""
    return await availability.update(session, principal, rule_id, data, settings)


@router.delete(f"{RULES}/{{rule_id:uuid}}", response_model=RuleWritten, operation_id="end_availability_rule",
               tags=["availability rules"], responses=error_responses(401, 403, 404))
async def end_availability_rule(rule_id: uuid.UUID, session: SessionDep, principal: EffectorDep) -> RuleWritten:
    """End a rule: its future free slots are withdrawn; booked and held ones stay."""
    return await availability.end(session, principal, rule_id)


# --- participation evidence -----------------------------------------------------------------

@participation_router.get(
    "/{practitioner_id:uuid}/participation", response_model=Participation, operation_id="get_participation",
    responses={**error_responses(401, 403, 404, 422),
               200: {"description": "JSON, or CSV with format=csv", "content": {"text/csv": {}}}},
)
async def get_participation(
    practitioner_id: uuid.UUID,
    session: SessionDep,
    principal: EvidenceReaderDep,
    first: Annotated[dt.date | None, Query(alias="from", description="Default: 12 weeks before `to`")] = None,
    last: Annotated[dt.date | None, Query(alias="to", description="Default: today")] = None,
    format: Literal["json", "csv"] = "json",
) -> Participation | Response:
    """Hours of slots offered per ISO week against the 2-hour forfait, orientations received, fulfilled, no-show."""
    report = await participation.evidence(session, principal, practitioner_id, first, last)
    if format == "csv":
        name = f"participation-{report.rpps}-{report.from_}-{report.to}.csv"
        return Response(participation.to_csv(report), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return report
