"""The MT queue's routes: a doctor's offer to take new patients, the lists of such doctors (the coordination's,
and the public one), the waiting list and the matching (docs/mt.md)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse

from app.auth.dependencies import require_roles
from app.auth.principal import Principal
from app.http.dependencies import SessionDep, SettingsDep
from app.http.errors import error_responses
from app.http.routes import POLICIES
from app.mt import answer_link, importer, self_request, service
from app.mt.schemas import (
    AccessBookingIn,
    AccessSlot,
    Candidate,
    CloseIn,
    DoctorProposal,
    FoundIn,
    MtCounts,
    MtImportResult,
    MtRequestCreate,
    MtRequestRead,
    MtRequestSummary,
    NewPatientDoctor,
    NewPatientsIn,
    NewPatientsRead,
    Priority,
    PriorityIn,
    ProposalCreate,
    ProposalCreated,
    ProposalRead,
    ProposalState,
    PublicDoctor,
    RefuseIn,
    State,
)
from app.platform import pages
from app.platform.errors import PayloadTooLarge
from app.territories.schemas import CODE_PATTERN

offers_router = APIRouter(prefix="/v1/practitioners/me/new-patients", tags=["mt"])
doctors_router = APIRouter(tags=["mt"])
router = APIRouter(prefix="/v1/mt-requests", tags=["mt"])
proposals_router = APIRouter(prefix="/v1/mt-proposals", tags=["mt"])
pages_router = APIRouter(tags=["mt"])

DoctorDep = Annotated[Principal, Depends(require_roles("effector"))]
CoordinatorDep = Annotated[Principal, Depends(require_roles("coordinator", "admin"))]
MatcherDep = Annotated[Principal, Depends(require_roles("coordinator", "regulator", "admin"))]
# Who enters and reads requests (each within his walls: a referrer only what he sent, an effector what he sent and
# what was proposed to him). Never an analyst: nothing nominative is his.
RequestsDep = Annotated[Principal, Depends(require_roles("coordinator", "regulator", "operator", "effector",
                                                         "referrer", "admin"))]
ConfirmerDep = Annotated[Principal, Depends(require_roles("coordinator", "effector", "admin"))]
Territory = Annotated[str, Query(pattern=CODE_PATTERN, description="a territory and the CPTS under it")]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


@offers_router.put("", response_model=NewPatientsRead, operation_id="set_my_new_patients",
                   responses=error_responses(401, 403, 422))
async def set_my_new_patients(data: NewPatientsIn, session: SessionDep, principal: DoctorDep) -> NewPatientsRead:
    """The doctor's offer to take new patients as their médecin traitant (replaced whole): `accepting`, `per_month`,
    `publics` (ald, children, elderly, disability, any), `site_ids` among his own sites (422 naming `site_ids`
    otherwise), `until`, and `public_listing` (the CPTS's public list: name, site, publics, never his load)."""
    return await service.set_offer(session, principal, data)


@offers_router.get("", response_model=NewPatientsRead, operation_id="get_my_new_patients",
                   responses=error_responses(401, 403))
async def get_my_new_patients(session: SessionDep, principal: DoctorDep) -> NewPatientsRead:
    """The doctor's offer, with what he accepted this month and the capacity left (not accepting until he says)."""
    return await service.my_offer(session, principal)


@doctors_router.get("/v1/new-patient-doctors", response_model=list[NewPatientDoctor],
                    operation_id="list_new_patient_doctors", responses=error_responses(401, 403, 404, 422))
async def list_new_patient_doctors(
    session: SessionDep, principal: MatcherDep, territory: Territory, limit: Limit = 200, offset: Offset = 0,
) -> list[NewPatientDoctor]:
    """The doctors taking new patients at a site of the territory (or a CPTS under it), with their capacity left this
    month (the territory's month)."""
    return await service.doctors(session, principal, territory, limit=limit, offset=offset)


@doctors_router.get("/v1/public/new-patient-doctors", response_model=list[PublicDoctor],
                    operation_id="list_public_new_patient_doctors", responses=error_responses(404, 422, 429))
async def list_public_new_patient_doctors(
    session: SessionDep, territory: Territory, limit: Limit = 200, offset: Offset = 0,
) -> list[PublicDoctor]:
    """Public, without a token (budgeted by address): the doctors of the territory who take new patients and opted in
    to the list — name, sites, publics; never their load."""
    return await service.public_doctors(session, territory, limit=limit, offset=offset)


@router.post("", status_code=201, response_model=MtRequestRead, operation_id="create_mt_request",
             responses=error_responses(401, 403, 404, 422))
async def create_mt_request(data: MtRequestCreate, session: SessionDep, principal: RequestsDep) -> MtRequestRead:
    """A patient without a médecin traitant enters the waiting list: by the regulation (regulator, operator; from a
    call with `call_id`), an effector after an SNP visit, a referrer, or the coordinator. The priority and its
    reasons are computed from the situation (docs/mt.md)."""
    return await service.create(session, principal, data)


MAX_IMPORT_BYTES = POLICIES[("POST", "/v1/mt-requests/import")].body_bytes


@router.post(
    "/import", response_model=MtImportResult, operation_id="import_mt_requests",
    responses=error_responses(401, 403, 404, 413, 415, 422, 503),
    openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def import_mt_requests(
    request: Request, session: SessionDep, principal: CoordinatorDep, settings: SettingsDep
) -> MtImportResult:
    """Import a waiting list (CSV with a header: territory_code, phone, and any of family_name, given_name,
    birth_year, sex, postcode, address, email, publics — ald|disability|pregnancy —, note), all or nothing: each row
    a request of source `import`; the errors name the row and the column."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_IMPORT_BYTES:
        raise PayloadTooLarge(f"The file is larger than {MAX_IMPORT_BYTES // 2**20} MB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_IMPORT_BYTES:
            raise PayloadTooLarge(f"The file is larger than {MAX_IMPORT_BYTES // 2**20} MB")
    return await importer.run(session, principal, b"".join(chunks), request.headers.get("content-type"),
                              settings=settings)


@router.get("", response_model=list[MtRequestSummary], operation_id="list_mt_requests",
            responses=error_responses(401, 403, 404, 422))
async def list_mt_requests(
    session: SessionDep, principal: RequestsDep, territory: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
    state: State | None = None, priority: Priority | None = None, limit: Limit = 100, offset: Offset = 0,
) -> list[MtRequestSummary]:
    """The waiting list, by priority then the oldest first (a referrer sees only what he sent); audited."""
    return await service.list_(session, principal, territory=territory, state=state, priority=priority, limit=limit,
                               offset=offset)


@router.get("/counts", response_model=MtCounts, operation_id="count_mt_requests",
            responses=error_responses(401, 403, 404, 422))
async def count_mt_requests(
    session: SessionDep, principal: RequestsDep, territory: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
) -> MtCounts:
    """How many requests are in each state (waiting, proposed, accepted, found, closed), within the list's walls (a
    referrer counts what he sent); numbers only, so not audited as a read of patient records."""
    return await service.counts(session, principal, territory=territory)


@router.get("/{request_id:uuid}", response_model=MtRequestRead, operation_id="get_mt_request",
            responses=error_responses(401, 403, 404))
async def get_mt_request(request_id: uuid.UUID, session: SessionDep, principal: RequestsDep) -> MtRequestRead:
    """One request with the patient's identity and its proposals; the read is audited."""
    return await service.get(session, principal, request_id)


@router.post("/{request_id:uuid}/priority", response_model=MtRequestRead, operation_id="set_mt_request_priority",
             responses=error_responses(401, 403, 404, 409, 422))
async def set_mt_request_priority(
    request_id: uuid.UUID, data: PriorityIn, session: SessionDep, principal: CoordinatorDep
) -> MtRequestRead:
    """The coordinator sets the priority, with a reason (audited; the computed one stays beside it)."""
    return await service.adjust_priority(session, principal, request_id, data)


@router.post("/{request_id:uuid}/close", response_model=MtRequestRead, operation_id="close_mt_request",
             responses=error_responses(401, 403, 404, 409, 422))
async def close_mt_request(
    request_id: uuid.UUID, data: CloseIn, session: SessionDep, principal: CoordinatorDep
) -> MtRequestRead:
    """Close a request: found_elsewhere, unreachable, moved, deceased (pending proposals are withdrawn)."""
    return await service.close(session, principal, request_id, data)


@router.post("/{request_id:uuid}/found", response_model=MtRequestRead, operation_id="confirm_mt_found",
             responses=error_responses(401, 403, 404, 409, 422))
async def confirm_mt_found(
    request_id: uuid.UUID, data: FoundIn, session: SessionDep, principal: ConfirmerDep
) -> MtRequestRead:
    """The doctor who accepted, or the coordinator, confirms the first consultation: the médecin traitant is found."""
    return await service.found(session, principal, request_id, data)


@router.post("/{request_id:uuid}/access", response_model=MtRequestRead, operation_id="book_mt_access_consultation",
             responses=error_responses(401, 403, 404, 409, 422))
async def book_mt_access_consultation(
    request_id: uuid.UUID, data: AccessBookingIn, session: SessionDep, principal: CoordinatorDep
) -> MtRequestRead:
    """Orient the patient to an access consultation (a free slot of kind access in the request's territory) before
    his médecin traitant is found; one per request (409 once booked, or when the slot is no longer free)."""
    return await service.book_access(session, principal, request_id, data)


@doctors_router.get("/v1/access-slots", response_model=list[AccessSlot], operation_id="list_access_slots",
                    responses=error_responses(401, 403, 404, 422))
async def list_access_slots(
    session: SessionDep, principal: CoordinatorDep, territory: Territory,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[AccessSlot]:
    """The access consultations free in the territory (and the CPTS under it), the soonest first."""
    return await service.access_slots(session, principal, territory, limit=limit)


@router.get("/{request_id:uuid}/candidates", response_model=list[Candidate], operation_id="list_mt_candidates",
            responses=error_responses(401, 403, 404, 409))
async def list_mt_candidates(
    request_id: uuid.UUID, session: SessionDep, principal: MatcherDep, limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[Candidate]:
    """The doctors who may take the patient — accepting, publics fitting, capacity left this month, not yet
    proposed or refused — the nearest his postcode first."""
    return await service.candidates(session, principal, request_id, limit=limit)


@router.post("/{request_id:uuid}/proposals", status_code=201, response_model=ProposalCreated,
             operation_id="create_mt_proposal", responses=error_responses(401, 403, 404, 409, 422))
async def create_mt_proposal(
    request_id: uuid.UUID, data: ProposalCreate, session: SessionDep, principal: CoordinatorDep, settings: SettingsDep
) -> ProposalCreated:
    """Propose a doctor the patient chose (`patient_agreed: true`, required); the doctor accepts or refuses, in his
    view or by the `answer_link` of this answer (the coordinator sends it to him)."""
    return await service.propose(session, principal, request_id, data, settings)


@proposals_router.get("", response_model=list[DoctorProposal], operation_id="list_my_mt_proposals",
                      responses=error_responses(401, 403, 422))
async def list_my_mt_proposals(
    session: SessionDep, principal: DoctorDep, state: ProposalState | None = None, limit: Limit = 100,
    offset: Offset = 0,
) -> list[DoctorProposal]:
    """The proposals made to the doctor, the newest first (the patient's initials, age, postcode); audited."""
    return await service.my_proposals(session, principal, state=state, limit=limit, offset=offset)


@proposals_router.post("/{proposal_id:uuid}/accept", response_model=ProposalRead, operation_id="accept_mt_proposal",
                       responses=error_responses(401, 403, 404, 409))
async def accept_mt_proposal(proposal_id: uuid.UUID, session: SessionDep, principal: DoctorDep) -> ProposalRead:
    """The doctor takes the patient: his capacity of the month is taken at once (409 CapacityExhausted when none is
    left, AlreadyPlaced when another doctor accepted him)."""
    return await service.accept(session, principal, proposal_id)


@proposals_router.post("/{proposal_id:uuid}/refuse", response_model=ProposalRead, operation_id="refuse_mt_proposal",
                       responses=error_responses(401, 403, 404, 409, 422))
async def refuse_mt_proposal(
    proposal_id: uuid.UUID, data: RefuseIn, session: SessionDep, principal: DoctorDep
) -> ProposalRead:
    """The doctor refuses, with a reason: no_capacity, publics, too_far, patient_known, other."""
    return await service.refuse(session, principal, proposal_id, data)


AnswerToken = Annotated[str, Path(max_length=80, description="the signed link of a proposal (its answer_link)")]
ANSWER_PAGES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}, "description": "the page (French, without JavaScript)"},
    404: {"content": {"text/html": {}}, "description": "an unknown, altered or expired link"},
    409: {"content": {"text/html": {}}, "description": "the doctor cannot accept: another doctor accepted the "
          "patient, his capacity of the month is used, or his offer is closed"},
    422: {"content": {"text/html": {}}, "description": "no answer chosen, or a refusal without a reason of the list"},
    429: {"content": {"application/json": {}}, "description": "too many requests from this address this minute"},
}


@pages_router.get("/mt/{token}", response_class=HTMLResponse, operation_id="show_mt_answer_link",
                   responses=ANSWER_PAGES)
async def show_mt_answer_link(token: AnswerToken, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """Public: the proposal (the patient's publics, postcode and priority, never his name) and the buttons to accept
    or refuse. Changes nothing (mail scanners fetch links)."""
    status, body = await answer_link.show(session, token, settings, act=False)
    return HTMLResponse(body, status_code=status, headers=pages.HEADERS)


@pages_router.post("/mt/{token}", response_class=HTMLResponse, operation_id="answer_mt_by_link",
                    responses=ANSWER_PAGES)
async def answer_mt_by_link(
    token: AnswerToken, session: SessionDep, settings: SettingsDep,
    answer: Annotated[str | None, Form(description="accept or refuse")] = None,
    reason: Annotated[str | None, Form(description="to refuse: no_capacity, publics, too_far, patient_known, "
                                       "other")] = None,
) -> HTMLResponse:
    """Public: the doctor the proposal names accepts or refuses it (a form, application/x-www-form-urlencoded),
    exactly as by POST /v1/mt-proposals/{id}/accept|refuse; single use (again: it says it is answered already)."""
    status, body = await answer_link.show(session, token, settings, act=True, answer=answer, reason=reason)
    return HTMLResponse(body, status_code=status, headers=pages.HEADERS)


SELF_PAGES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}, "description": "the form (French, without JavaScript) and the information "
          "notice"},
    201: {"content": {"text/html": {}}, "description": "the request is recorded (nothing else is shown)"},
    404: {"content": {"text/html": {}}, "description": "an unknown, altered or expired self-referral link"},
    422: {"content": {"text/html": {}}, "description": "the form again, saying which field to correct (a phone is "
          "required)"},
    429: {"content": {"application/json": {}}, "description": "too many requests from this address this minute"},
}
SelfToken = Annotated[str, Path(max_length=80, description="the territory's self-referral link (POST "
                                "/v1/referral-links)")]
FormText = Annotated[str | None, Form()]


@pages_router.get("/v1/self-referrals/{token}/mt", response_class=HTMLResponse, operation_id="show_mt_self_request",
                  responses=SELF_PAGES)
async def show_mt_self_request(token: SelfToken, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """Public: the form by which a patient of the link's territory asks for a médecin traitant, with the information
    notice he is owed (purpose, retention, rights)."""
    status, body = await self_request.page(session, token, settings)
    return HTMLResponse(body, status_code=status, headers=pages.HEADERS)


@pages_router.post("/v1/self-referrals/{token}/mt", response_class=HTMLResponse, status_code=201,
                   operation_id="make_mt_self_request", responses=SELF_PAGES)
async def make_mt_self_request(
    token: SelfToken, session: SessionDep, settings: SettingsDep, phone: FormText = None,
    family_name: FormText = None, given_name: FormText = None, birth_year: FormText = None, postcode: FormText = None,
    publics: Annotated[list[str] | None, Form(description="ald, disability, pregnancy")] = None,
) -> HTMLResponse:
    """Public (budgeted by address, as the self-referrals): the patient's own request (source `self`) waits on his
    territory's list; a phone is required; nothing is shown back but that it is recorded."""
    form = {"phone": phone, "family_name": family_name, "given_name": given_name, "birth_year": birth_year,
            "postcode": postcode}
    status, body = await self_request.page(session, token, settings, form, publics)
    return HTMLResponse(body, status_code=status, headers=pages.HEADERS)
