from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from app.auth.dependencies import AdminDep, OperatorDep, ReferrerDep, RegulatorDep, require_roles
from app.auth.principal import Principal
from app.calls import importer, self_referral, service, timeline
from app.calls.schemas import (
    SAMU_CASE_PATTERN,
    AssignIn,
    CallbackIn,
    CallbackRead,
    CallCreate,
    CallDetail,
    CallPatch,
    CallRead,
    CallStatus,
    CallSummary,
    DecisionCreate,
    DecisionRead,
    FindIn,
    ImportResult,
    ObservationIn,
    ObservationRead,
    PurgeIn,
    PurgeResult,
    ReferralCreate,
    ReferralLinkCreate,
    ReferralLinkRead,
    RevokeIn,
    SelfReferralCreate,
    SelfReferralReceived,
    TimelineEntry,
)
from app.http.dependencies import SessionDep, SettingsDep, StatementsDep
from app.http.errors import ErrorBody, error_responses
from app.http.routes import POLICIES
from app.platform.errors import PayloadTooLarge
from app.territories.schemas import CODE_PATTERN

router = APIRouter(prefix="/v1/calls", tags=["calls"])
referral_router = APIRouter(prefix="/v1/referrals", tags=["calls"])
self_referral_router = APIRouter(tags=["calls"])

ImporterDep = Annotated[Principal, Depends(require_roles("admin", "analyst"))]
MAX_IMPORT_BYTES = POLICIES[("POST", "/v1/calls/import")].body_bytes


@router.post("", status_code=201, response_model=CallRead, operation_id="create_call",
             responses=error_responses(401, 403, 404, 422))
async def create_call(
    data: CallCreate, session: SessionDep, principal: OperatorDep, settings: SettingsDep
) -> CallRead:
    """Enter a call transferred to the SAS ambulatoire; its due time follows the territory's priority delays."""
    return await service.create(session, principal, data, skew_seconds=settings.clock_skew_seconds)


@router.get("", response_model=list[CallSummary], operation_id="list_calls",
            responses=error_responses(401, 403, 404, 422))
async def list_calls(
    session: SessionDep,
    statements: StatementsDep,
    principal: OperatorDep,
    territory: Annotated[
        str | None, Query(description="a territory and the CPTS under it", pattern=CODE_PATTERN)
    ] = None,
    status: CallStatus | None = None,
    open_only: Annotated[bool, Query(alias="open", description="every call not closed (waiting, in progress, to "
                                     "re-orient) but the ED redirections that have their appointment: the "
                                     "live queue")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    samu_case_id: Annotated[str | None, Query(min_length=1, max_length=64, pattern=SAMU_CASE_PATTERN,
                                              description="the calls of this SAMU file number")] = None,
    triage: Annotated[bool, Query(description="add each call's triage (age, sex, the reason's first words): "
                                  "what a regulator reads to choose the next call; the read is audited "
                                  "(calls.triage.read)")] = False,
) -> Response:
    """The queue, soonest due first, with late calls flagged (no patient name or phone in the list)."""
    return Response(await service.queue(session, statements, principal, territory=territory, status=status, limit=limit,
                                        offset=offset, open_only=open_only, samu_case_id=samu_case_id, triage=triage),
                    media_type="application/json")


@router.post(
    "/import", status_code=201, response_model=ImportResult, operation_id="import_calls",
    responses={
        **error_responses(401, 403, 404, 413, 415),
        422: {"model": ErrorBody, "description": "Rows rejected (ImportRejected, with `rows`: their number, field "
                                                 "and reason), or a parameter refused (ValidationError)"},
    },
    openapi_extra={"requestBody": {"required": True, "content": {
        "text/csv": {"schema": {"type": "string"}},
        "application/x-ndjson": {"schema": {"type": "string"}},
    }}},
)
async def import_calls(
    request: Request, session: SessionDep, principal: ImporterDep, settings: SettingsDep
) -> ImportResult:
    """Import historical calls (CSV or NDJSON), all or nothing; re-importing the same file adds nothing."""
    body = await _read_body(request)
    return await importer.run(
        session, principal, body, request.headers.get("content-type"), skew_seconds=settings.clock_skew_seconds,
        settings=settings,
    )


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_IMPORT_BYTES:
        raise PayloadTooLarge(f"The file is larger than {MAX_IMPORT_BYTES // 2**20} MB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_IMPORT_BYTES:
            raise PayloadTooLarge(f"The file is larger than {MAX_IMPORT_BYTES // 2**20} MB")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/purge", response_model=PurgeResult, operation_id="purge_calls",
             responses=error_responses(401, 403, 422))
async def purge_calls(
    session: SessionDep, principal: AdminDep, settings: SettingsDep, data: PurgeIn | None = None
) -> PurgeResult:
    """Empty the patient identity of calls older than the retention period; counts and decisions stay."""
    days = data.days if data and data.days else settings.retention_days
    return await service.purge(session, principal, days=days, record_days=settings.record_retention_days)


@router.post("/find", response_model=list[CallRead], operation_id="find_calls",
             responses=error_responses(401, 403, 422))
async def find_calls(session: SessionDep, principal: OperatorDep, data: FindIn) -> list[CallRead]:
    """Today's calls (the last 24 hours) of my territories whose patient matches: a read of patient data,
    each call found written to the audit log (the query itself is not kept). A POST, so that a name or a
    phone never sits in a URL, where access logs and proxies would keep it."""
    return await service.find(session, principal, data.q)


@router.get("/{call_id:uuid}", response_model=CallDetail, operation_id="get_call",
            responses=error_responses(401, 403, 404, 422))
async def get_call(call_id: uuid.UUID, session: SessionDep, principal: OperatorDep) -> CallDetail:
    """One call with its patient data, decisions, callbacks and bookings; every read is audited."""
    return await service.get_detail(session, principal, call_id)


@router.post("/{call_id:uuid}/assign", response_model=CallSummary, operation_id="assign_call",
             responses=error_responses(401, 403, 404, 409, 422))
async def assign_call(
    call_id: uuid.UUID, session: SessionDep, principal: OperatorDep, data: AssignIn | None = None
) -> CallSummary:
    """Assign the call to a regulator (yourself by default); a waiting call becomes in progress."""
    return await service.assign(session, principal, call_id, data or AssignIn())


@router.patch("/{call_id:uuid}", response_model=CallRead, operation_id="correct_call",
              responses=error_responses(401, 403, 404, 422))
async def correct_call(call_id: uuid.UUID, data: CallPatch, session: SessionDep, principal: OperatorDep) -> CallRead:
    """Correct a call after its entry: the patient's fields sent, the reason, the priority (its due time moves),
    the SAMU file number. Each change is audited with its old and new values; a corrected name, phone or
    address of a call with an active booking is told to its effector (`booking.updated`)."""
    return await service.correct(session, principal, call_id, data)


@router.post("/{call_id:uuid}/observations", status_code=201, response_model=ObservationRead,
             operation_id="add_observation", responses=error_responses(401, 403, 404, 422))
async def add_observation(
    call_id: uuid.UUID, data: ObservationIn, session: SessionDep, principal: OperatorDep
) -> ObservationRead:
    """Add a timestamped, signed observation to the call's record (sealed at rest). Never changed afterwards:
    a correction is a new observation naming the one it corrects (`corrects`), and both stay."""
    return await service.observe(session, principal, call_id, data)


@router.get("/{call_id:uuid}/observations", response_model=list[ObservationRead], operation_id="list_observations",
            responses=error_responses(401, 403, 404, 422))
async def list_observations(call_id: uuid.UUID, session: SessionDep, principal: OperatorDep) -> list[ObservationRead]:
    """The call's observations in the order they were written, each with those that correct it; every read is
    audited."""
    return await service.observations(session, principal, call_id)


@router.get("/{call_id:uuid}/timeline", response_model=list[TimelineEntry], operation_id="call_timeline",
            responses=error_responses(401, 403, 404, 422))
async def call_timeline(call_id: uuid.UUID, session: SessionDep, principal: OperatorDep) -> list[TimelineEntry]:
    """The call's history as one timeline, oldest first: received, taken (by whom), callbacks, observations,
    decisions (revoked ones struck), appointments (cancelled ones struck), re-orientation, corrections (the
    fields' names), closing. Every read is audited (call.timeline.read)."""
    return await timeline.timeline(session, principal, call_id)


@router.post("/{call_id:uuid}/callback", status_code=201, response_model=CallbackRead, operation_id="record_callback",
             responses=error_responses(401, 403, 404, 409, 422))
async def record_callback(
    call_id: uuid.UUID, session: SessionDep, principal: RegulatorDep, settings: SettingsDep,
    data: CallbackIn | None = None,
) -> Any:
    """Record a callback attempt; the first one sets the call's first_callback_at."""
    attempt = await service.callback(
        session, principal, call_id, data or CallbackIn(), skew_seconds=settings.clock_skew_seconds
    )
    return CallbackRead.model_validate(attempt)


@router.post("/{call_id:uuid}/decisions", status_code=201, response_model=DecisionRead, operation_id="add_decision",
             responses=error_responses(401, 403, 404, 409, 422))
async def add_decision(
    call_id: uuid.UUID, data: DecisionCreate, session: SessionDep, principal: RegulatorDep, settings: SettingsDep
) -> Any:
    """Record a decision (advice, slot with its booking, prescription to a pharmacy, other with its reason)."""
    decision = await service.decide(session, principal, call_id, data, skew_seconds=settings.clock_skew_seconds)
    return service.decision_read(decision)


@router.post("/{call_id:uuid}/decisions/{decision_id:uuid}/revoke", response_model=DecisionRead,
             operation_id="revoke_decision", responses=error_responses(401, 403, 404, 409, 422))
async def revoke_decision(
    call_id: uuid.UUID, decision_id: uuid.UUID, session: SessionDep, principal: RegulatorDep,
    data: RevokeIn | None = None,
) -> Any:
    """Undo a mistaken decision: it stays on the call, marked revoked (and in the audit log), and no longer
    counts. A slot decision whose booking is active is undone by cancelling the booking (409)."""
    revoked = await service.revoke(session, principal, call_id, decision_id, data or RevokeIn())
    return service.decision_read(revoked)


@router.post("/{call_id:uuid}/close", response_model=CallSummary, operation_id="close_call",
             responses=error_responses(401, 403, 404, 409))
async def close_call(call_id: uuid.UUID, session: SessionDep, principal: OperatorDep) -> CallSummary:
    """Close the call; a call without any decision cannot be closed (409)."""
    return await service.close(session, principal, call_id)


@referral_router.post("", status_code=201, response_model=CallSummary, operation_id="create_referral",
                      responses=error_responses(401, 403, 404, 422))
async def create_referral(
    data: ReferralCreate, session: SessionDep, principal: ReferrerDep, settings: SettingsDep
) -> CallSummary:
    """A city professional (role referrer) refers a patient: a call, channel `professionnel` with his kind,
    waits in the territory's queue for the regulation to call the patient back."""
    return await service.refer(session, principal, data, skew_seconds=settings.clock_skew_seconds)


@referral_router.get("", response_model=list[CallSummary], operation_id="list_my_referrals",
                     responses=error_responses(401, 403, 422))
async def list_my_referrals(
    session: SessionDep,
    principal: ReferrerDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> list[CallSummary]:
    """The referrals I made, newest first, with where each stands (no patient identity)."""
    return await service.my_referrals(session, principal, limit=limit, offset=offset)


@self_referral_router.post("/v1/referral-links", status_code=201, response_model=ReferralLinkRead,
                           operation_id="create_referral_link", responses=error_responses(401, 403, 404, 422))
async def create_referral_link(
    data: ReferralLinkCreate, session: SessionDep, principal: OperatorDep, settings: SettingsDep
) -> ReferralLinkRead:
    """A signed link (for a QR code) by which patients of the territory ask to be called back."""
    return await self_referral.create_link(session, principal, data, settings.link_secret)


@self_referral_router.post("/v1/self-referrals/{token}", status_code=201, response_model=SelfReferralReceived,
                           operation_id="self_refer", responses=error_responses(404, 422, 429))
async def self_refer(
    token: Annotated[str, Path(max_length=80)], data: SelfReferralCreate, session: SessionDep,
    settings: SettingsDep,
) -> SelfReferralReceived:
    """Public, without a token: the patient of a signed link leaves his phone number and a waiting call
    appears in the territory's queue. An unknown or expired link is 404; rate limited per address."""
    return await self_referral.receive(session, token, data, settings.link_secret)
