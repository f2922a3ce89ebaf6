"""The rules of the MT queue: a doctor's offer, the waiting list, the matching. Services flush, never commit: one
request, one transaction — an acceptance and the doctor's capacity taken commit together or not at all."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.principal import Principal
from app.calls import service as call_service
from app.identity import crypto
from app.identity.sealing import initials, opened
from app.mt import links, repository
from app.mt.errors import AlreadyPlaced, CapacityExhausted, NotAccepting, SlotTaken, WrongState
from app.mt.models import MtOffer, MtProposal, MtRequest
from app.mt.schemas import (
    SOURCE_ROLES,
    AccessBookingIn,
    AccessSlot,
    AnswerLink,
    Candidate,
    Centroid,
    CloseIn,
    DoctorProposal,
    FoundIn,
    MtCounts,
    MtPatientIn,
    MtRequestCreate,
    MtRequestRead,
    MtRequestSummary,
    NewPatientDoctor,
    NewPatientsIn,
    NewPatientsRead,
    PatientView,
    PriorityAdjustment,
    PriorityIn,
    ProposalCreate,
    ProposalCreated,
    ProposalRead,
    PublicDoctor,
    RefuseIn,
    RequestProposal,
    SiteBrief,
    age_this_year,
    matching_publics,
    priority_of,
)
from app.platform.config import Settings
from app.platform.errors import Forbidden, NotFound, Unprocessable
from app.platform.logging import log
from app.practitioners import repository as practitioner_repository
from app.territories import repository as territory_repository
from app.territories import service as territory_service
from app.territories.models import Territory

IDENTITY = ("family_name", "given_name", "phone", "address", "email")
OPEN_STATES = ("waiting", "proposed")
DEFAULT_TIMEZONE = "Europe/Paris"
# Who makes a request of source self: the patient, through the public self-referral page (no account).
SELF = Principal(sub="self-referral", role="patient")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def today_in(timezone: str) -> dt.date:
    """The date in a territory's time zone: its month is the month a doctor's capacity counts in."""
    return now().astimezone(ZoneInfo(timezone)).date()


# --------------------------------------------------------------------------- doctors who take new patients


def _me(principal: Principal) -> uuid.UUID:
    if principal.practitioner_id is None:
        raise Forbidden("This token names no practitioner")
    return principal.practitioner_id


async def _offer_timezone(session: AsyncSession, site_ids: Sequence[uuid.UUID]) -> str:
    """The time zone of the territory of the offer's first site (the doctor's month), else metropolitan France's."""
    if not site_ids:
        return DEFAULT_TIMEZONE
    return await repository.site_timezone(session, site_ids[0]) or DEFAULT_TIMEZONE


async def _offer_read(session: AsyncSession, practitioner_id: uuid.UUID, offer: MtOffer | None) -> NewPatientsRead:
    if offer is None:
        return NewPatientsRead(practitioner_id=practitioner_id, accepting=False, per_month=0, publics=[], site_ids=[],
                               until=None, public_listing=False, taken_this_month=0, capacity_left=0, updated_at=None)
    month = today_in(await _offer_timezone(session, offer.site_ids)).replace(day=1)
    taken = await repository.taken(session, practitioner_id, month)
    return NewPatientsRead(
        practitioner_id=practitioner_id, accepting=offer.accepting, per_month=offer.per_month,
        publics=list(offer.publics), site_ids=list(offer.site_ids), until=offer.until,
        public_listing=offer.public_listing, taken_this_month=taken,
        capacity_left=max(0, offer.per_month - taken) if offer.accepting else 0, updated_at=offer.updated_at)


async def my_offer(session: AsyncSession, principal: Principal) -> NewPatientsRead:
    me = _me(principal)
    return await _offer_read(session, me, await repository.offer(session, me))


async def set_offer(session: AsyncSession, principal: Principal, data: NewPatientsIn) -> NewPatientsRead:
    """A doctor's whole offer; his sites among his own, the rest stated when he accepts."""
    me = _me(principal)
    if data.accepting:
        if data.per_month < 1:
            raise Unprocessable("per_month: at least 1 new patient a month when accepting", field="per_month")
        if not data.publics:
            raise Unprocessable("publics: say whom you take (ald, children, elderly, disability, any)",
                                field="publics")
        if not data.site_ids:
            raise Unprocessable("site_ids: say at which of your sites", field="site_ids")
    own = set((await practitioner_repository.site_ids(session, [me]))[me])
    for i, site_id in enumerate(data.site_ids):
        if site_id not in own:
            raise Unprocessable(f"site_ids[{i}]: {site_id} is not one of your own sites (PATCH /v1/practitioners/me "
                                "sets them)", field="site_ids")
    if data.until is not None and data.until < today_in(DEFAULT_TIMEZONE) - dt.timedelta(days=1):
        raise Unprocessable("until: the offer's last day lies in the past", field="until")
    offer = await repository.offer(session, me, lock=True)
    if offer is None:
        offer = MtOffer(practitioner_id=me)
        session.add(offer)
    offer.accepting, offer.per_month = data.accepting, data.per_month
    offer.publics = sorted(set(data.publics))
    offer.site_ids = list(dict.fromkeys(data.site_ids))
    offer.until, offer.public_listing, offer.updated_at = data.until, data.public_listing, now()
    await session.flush()
    log.info("mt.offer_set", practitioner_id=str(me), accepting=data.accepting, per_month=data.per_month)
    return await _offer_read(session, me, offer)


async def _territory(session: AsyncSession, principal: Principal | None, code: str, field: str) -> Territory:
    try:
        if principal is None:
            return await territory_service.get(session, code)
        return await territory_service.ensure_visible(session, principal, code)
    except NotFound as exc:
        raise NotFound(f"Territory {code} not found", field=field) from exc


async def _doctor_rows(session: AsyncSession, territory: Territory, *, public_only: bool, limit: int,
                       offset: int) -> tuple[list[Any], dict[uuid.UUID, list[SiteBrief]]]:
    codes = sorted(await territory_repository.with_children(session, [territory.code]))
    rows = list(await repository.doctors(session, codes=codes, today=today_in(territory.timezone),
                                         public_only=public_only, limit=limit, offset=offset))
    ids = [site for row in rows for site in row["site_ids"]]
    briefs = {s["id"]: SiteBrief(**s) for s in await repository.sites_in(session, ids, codes)}
    return rows, {row["practitioner_id"]: [briefs[s] for s in row["site_ids"] if s in briefs] for row in rows}


async def doctors(session: AsyncSession, principal: Principal, territory_code: str, *, limit: int,
                  offset: int) -> list[NewPatientDoctor]:
    territory = await _territory(session, principal, territory_code, "territory")
    rows, sites = await _doctor_rows(session, territory, public_only=False, limit=limit, offset=offset)
    return [NewPatientDoctor(
        practitioner_id=r["practitioner_id"], family_name=r["family_name"], given_name=r["given_name"],
        specialty=r["specialty"], publics=list(r["publics"]), per_month=r["per_month"], taken_this_month=r["taken"],
        capacity_left=max(0, r["per_month"] - r["taken"]), until=r["until"], public_listing=r["public_listing"],
        sites=sites[r["practitioner_id"]]) for r in rows]


async def public_doctors(session: AsyncSession, territory_code: str, *, limit: int, offset: int) -> list[PublicDoctor]:
    """The doctors who opted in to the public list: name, sites, publics; never their load."""
    territory = await _territory(session, None, territory_code, "territory")
    rows, sites = await _doctor_rows(session, territory, public_only=True, limit=limit, offset=offset)
    return [PublicDoctor(name=f"Dr {r['given_name']} {r['family_name']}", specialty=r["specialty"],
                         publics=list(r["publics"]), sites=sites[r["practitioner_id"]]) for r in rows]


# --------------------------------------------------------------------------- the waiting list


async def _visible(session: AsyncSession, principal: Principal) -> Any:
    return repository.scope(principal, await territory_service.visible_codes(session, principal))


async def _request(session: AsyncSession, principal: Principal, request_id: uuid.UUID, *,
                   lock: bool = False) -> MtRequest:
    found = await repository.get(session, request_id, await _visible(session, principal), lock=lock)
    if found is None:
        raise NotFound(f"MT request {request_id} not found")
    return found


def _sees_identity(principal: Principal, request: MtRequest) -> bool:
    """A doctor it is only proposed to sees who the patient is (initials, age, postcode) once he accepted him."""
    if principal.role != "effector":
        return True
    return request.created_by == principal.sub or (
        request.practitioner_id is not None and request.practitioner_id == principal.practitioner_id)


def _summary_fields(request: MtRequest, year: int) -> dict[str, Any]:
    ring = crypto.ring()
    return {
        "id": request.id, "territory_code": request.territory_code, "source": request.source, "state": request.state,
        "closed_reason": request.closed_reason, "publics": list(request.publics),
        "matching_publics": matching_publics(list(request.publics), request.patient_birth_year, year),
        "priority": request.priority, "priority_computed": request.priority_computed,
        "priority_reasons": list(request.priority_reasons),
        "initials": initials(ring.open(request.patient_given_name, "patient_given_name"),
                             ring.open(request.patient_family_name, "patient_family_name")),
        "age": age_this_year(request.patient_birth_year, year), "postcode": request.patient_postcode,
        "practitioner_id": request.practitioner_id, "created_at": request.created_at,
        "waiting_days": max(0, ((request.ended_at or now()) - request.created_at).days),
    }


def _summary(request: MtRequest, year: int) -> MtRequestSummary:
    return MtRequestSummary(**_summary_fields(request, year))


async def _read(session: AsyncSession, principal: Principal, request: MtRequest) -> MtRequestRead:
    ring, year = crypto.ring(), now().year
    fields = _summary_fields(request, year)
    centroid = None if request.patient_postcode is None else \
        await territory_repository.postcode_centroid(session, request.patient_postcode)
    patient = PatientView(initials=fields["initials"], birth_year=request.patient_birth_year, age=fields["age"],
                          sex=request.patient_sex, postcode=request.patient_postcode,
                          postcode_centroid=None if centroid is None else Centroid(lat=centroid[0], lon=centroid[1]))
    if _sees_identity(principal, request):
        patient = patient.model_copy(update={
            name: ring.open(getattr(request, f"patient_{name}"), f"patient_{name}") for name in IDENTITY})
    # The coordinator's reason may tell of the patient's health: for the coordination only.
    adjustment = None
    if request.priority_adjusted_by is not None and request.priority_adjusted_at is not None \
            and principal.role in ("coordinator", "admin"):
        adjustment = PriorityAdjustment(
            by=request.priority_adjusted_by, at=request.priority_adjusted_at,
            reason=ring.open(request.priority_adjusted_reason, "priority_adjusted_reason"))
    proposals = await repository.proposals_of(session, request.id)
    if principal.role == "effector":  # a doctor sees his own proposals only
        proposals = [p for p in proposals if p.practitioner_id == principal.practitioner_id]
    names = await repository.proposal_names(session, request.id) if proposals else {}  # family, given, site
    return MtRequestRead(
        **fields, call_id=request.call_id, created_by_role=request.created_by_role,
        referrer_kind=request.referrer_kind, patient=patient,
        note=ring.open(request.note, "note") if _sees_identity(principal, request) else None,
        priority_adjustment=adjustment, accepted_at=request.accepted_at, first_visit_on=request.first_visit_on,
        access_slot_id=request.access_slot_id, access_booked_at=request.access_booked_at,
        found_at=request.found_at, closed_at=request.closed_at, purged_at=request.purged_at,
        proposals=[RequestProposal(**ProposalRead.model_validate(p).model_dump(), **names[p.id]) for p in proposals])


def _audit(session: AsyncSession, principal: Principal | None, action: str, request: MtRequest,
           **detail: Any) -> None:
    audit.record(session, principal, action, call_id=request.call_id,
                 detail={"mt_request_id": str(request.id), **detail})


async def create(session: AsyncSession, principal: Principal, data: MtRequestCreate) -> MtRequestRead:
    """A patient without a médecin traitant enters the waiting list of his territory."""
    allowed = SOURCE_ROLES.get(data.source)
    if allowed is None:
        raise Unprocessable(f"source: {data.source} requests come by their own way (self: the public self-referral "
                            "page; import: the import)", field="source")
    if principal.role not in allowed:
        raise Unprocessable(f"source: a {principal.role} enters requests of source "
                            f"{', '.join(s for s, roles in SOURCE_ROLES.items() if principal.role in roles)}",
                            field="source")
    territory = await _territory(session, principal, data.territory_code, "territory_code")
    given = data.patient.model_dump(exclude_none=True)
    patient: dict[str, Any] = {}
    if data.call_id is not None:
        if data.source != "regulation":
            raise Unprocessable("call_id: only the regulation enters a request from a call", field="call_id")
        try:
            call = await call_service.ensure_visible(session, principal, data.call_id)
        except NotFound as exc:
            raise NotFound(f"Call {data.call_id} not found", field="call_id") from exc
        identity = opened(crypto.ring(), call)
        patient = {k: v for k, v in identity.items() if k in IDENTITY and v is not None}
        patient |= {k: v for k, v in (("birth_year", call.patient_birth_year), ("sex", call.patient_sex),
                                      ("postcode", call.patient_postcode)) if v is not None}
    patient |= given
    if not patient.get("phone"):
        raise Unprocessable("patient.phone: the coordination calls the patient back (the call named has none)"
                            if data.call_id else "patient.phone: the coordination calls the patient back",
                            field="patient.phone")
    postcode = patient.get("postcode")
    if postcode and await territory_repository.unknown_postcodes(session, [postcode]):
        raise Unprocessable(f"patient.postcode: {postcode} is not a French postcode", field="patient.postcode")
    request = new_request(territory.code, data.source, principal, patient, data.publics, note=data.note,
                           call_id=data.call_id)
    priority = request.priority
    session.add(request)
    await session.flush()
    await session.refresh(request)
    _audit(session, principal, "mt_request.created", request, source=data.source, priority=priority)
    log.info("mt.request_created", mt_request_id=str(request.id), territory=territory.code, source=data.source,
             priority=priority)
    return await _read(session, principal, request)


async def create_self(session: AsyncSession, territory_code: str, patient: MtPatientIn,
                      publics: Sequence[str]) -> None:
    """The patient's own request (source ``self``, the public self-referral page): a phone required, nothing given
    back."""
    given = patient.model_dump(exclude_none=True)
    if not given.get("phone"):
        raise Unprocessable("patient.phone: the coordination calls the patient back", field="patient.phone")
    postcode = given.get("postcode")
    if postcode and await territory_repository.unknown_postcodes(session, [postcode]):
        raise Unprocessable(f"patient.postcode: {postcode} is not a French postcode", field="patient.postcode")
    request = new_request(territory_code, "self", SELF, given, publics)
    session.add(request)
    await session.flush()
    _audit(session, SELF, "mt_request.created", request, source="self", priority=request.priority)
    log.info("mt.request_created", mt_request_id=str(request.id), territory=territory_code, source="self",
             priority=request.priority)


def new_request(territory_code: str, source: str, by: Principal, patient: dict[str, Any], publics: Sequence[str], *,
                 note: str | None = None, call_id: uuid.UUID | None = None) -> MtRequest:
    """A waiting request, its priority computed and its identity sealed: the one way every source makes one (the API,
    the patient's own page, the import)."""
    declared = sorted(set(publics))
    priority, reasons = priority_of(declared, patient.get("birth_year"), now().year,
                                    snp_visit=source == "effector" or call_id is not None)
    ring = crypto.ring()
    return MtRequest(
        territory_code=territory_code, source=source, state="waiting", created_by=by.sub, created_by_role=by.role,
        referrer_kind=by.referrer_kind if by.role == "referrer" else None, call_id=call_id,
        patient_birth_year=patient.get("birth_year"), patient_sex=patient.get("sex"),
        patient_postcode=patient.get("postcode"), publics=declared, priority=priority, priority_computed=priority,
        priority_reasons=reasons, note=ring.seal(note, "note"), created_at=now(),  # the act's time, in order
        **{f"patient_{name}": ring.seal(patient.get(name), f"patient_{name}") for name in IDENTITY},
    )


async def list_(session: AsyncSession, principal: Principal, *, territory: str | None, state: str | None,
                priority: str | None, limit: int, offset: int) -> list[MtRequestSummary]:
    """The waiting list by priority, then the oldest first; the reading (initials, ages) is audited."""
    wanted = None
    if territory:
        await _territory(session, principal, territory, "territory")
        wanted = await territory_repository.with_children(session, [territory])
    rows = await repository.list_(session, await _visible(session, principal), territories=wanted, state=state,
                                  priority=priority, limit=limit, offset=offset)
    if rows:
        audit.record(session, principal, "mt_requests.listed", detail={"mt_request_ids": [str(r.id) for r in rows]})
    year = now().year
    return [_summary(r, year) for r in rows]


async def counts(session: AsyncSession, principal: Principal, *, territory: str | None) -> MtCounts:
    """How many requests are in each state, within the list's walls. Not audited as a read of patient records: it
    reads none (numbers only, no row of a patient)."""
    wanted = None
    if territory:
        await _territory(session, principal, territory, "territory")
        wanted = await territory_repository.with_children(session, [territory])
    found = await repository.counts(session, await _visible(session, principal), territories=wanted)
    return MtCounts(**{state: found.get(state, 0) for state in MtCounts.model_fields})


async def get(session: AsyncSession, principal: Principal, request_id: uuid.UUID) -> MtRequestRead:
    request = await _request(session, principal, request_id)
    _audit(session, principal, "mt_request.read", request)
    return await _read(session, principal, request)


async def adjust_priority(session: AsyncSession, principal: Principal, request_id: uuid.UUID,
                          data: PriorityIn) -> MtRequestRead:
    request = await _request(session, principal, request_id, lock=True)
    if request.state not in OPEN_STATES:
        raise WrongState(f"The request is {request.state}: its priority no longer matters")
    before = request.priority
    request.priority, request.priority_adjusted_by, request.priority_adjusted_at = data.priority, principal.sub, now()
    request.priority_adjusted_reason = crypto.ring().seal(data.reason, "priority_adjusted_reason")
    await session.flush()
    _audit(session, principal, "mt_request.priority_adjusted", request, before=before, after=data.priority)
    return await _read(session, principal, request)


async def close(session: AsyncSession, principal: Principal, request_id: uuid.UUID, data: CloseIn) -> MtRequestRead:
    request = await _request(session, principal, request_id, lock=True)
    if request.state in ("found", "closed"):
        raise WrongState(f"The request is {request.state} already")
    at = now()
    request.state, request.closed_reason, request.closed_at, request.ended_at = "closed", data.reason, at, at
    await repository.withdraw_others(session, request.id, uuid.UUID(int=0), at)
    await session.flush()
    _audit(session, principal, "mt_request.closed", request, reason=data.reason)
    return await _read(session, principal, request)


async def found(session: AsyncSession, principal: Principal, request_id: uuid.UUID, data: FoundIn) -> MtRequestRead:
    """The doctor who accepted, or the coordination, confirms the first consultation: the MT is found."""
    request = await _request(session, principal, request_id, lock=True)
    if request.state != "accepted":
        raise WrongState(f"The request is {request.state}: a doctor must have accepted the patient first")
    if principal.role == "effector" and request.practitioner_id != principal.practitioner_id:
        raise Forbidden("Only the doctor who accepted the patient, or the coordination, confirms it")
    territory = await territory_service.get(session, request.territory_code)
    if data.first_visit_on > today_in(territory.timezone):
        raise Unprocessable("first_visit_on lies in the future", field="first_visit_on")
    if request.accepted_at is not None and data.first_visit_on < request.created_at.date():
        raise Unprocessable("first_visit_on is before the request was made", field="first_visit_on")
    at = now()
    request.state, request.first_visit_on, request.found_at, request.ended_at = "found", data.first_visit_on, at, at
    await session.flush()
    _audit(session, principal, "mt_request.found", request, practitioner_id=str(request.practitioner_id))
    log.info("mt.found", mt_request_id=str(request.id))
    return await _read(session, principal, request)


# --------------------------------------------------------------------------- matching


async def _candidates(session: AsyncSession, request: MtRequest, *, practitioner: uuid.UUID | None = None,
                      limit: int = 50) -> list[Candidate]:
    territory = await territory_service.get(session, request.territory_code)
    codes = sorted(await territory_repository.with_children(session, [territory.code]))
    publics = matching_publics(list(request.publics), request.patient_birth_year, now().year)
    centroid = None if request.patient_postcode is None else \
        await territory_repository.postcode_centroid(session, request.patient_postcode)
    rows = await repository.candidates(session, codes=codes, today=today_in(territory.timezone), publics=publics,
                                       centroid=centroid, practitioner=practitioner, request=request.id, limit=limit)
    return [Candidate(
        practitioner_id=r["practitioner_id"], family_name=r["family_name"], given_name=r["given_name"],
        publics=list(r["publics"]), capacity_left=r["capacity_left"],
        site=SiteBrief(id=r["site_id"], name=r["site_name"], address=r["address"], postcode=r["postcode"],
                       lat=r["lat"], lon=r["lon"]),
        distance_km=None if r["distance_km"] is None else round(float(r["distance_km"]), 1)) for r in rows]


async def candidates(session: AsyncSession, principal: Principal, request_id: uuid.UUID, *,
                     limit: int) -> list[Candidate]:
    request = await _request(session, principal, request_id)
    if request.state not in OPEN_STATES:
        raise WrongState(f"The request is {request.state}: no doctor is to be found for it")
    return await _candidates(session, request, limit=limit)


async def propose(session: AsyncSession, principal: Principal, request_id: uuid.UUID,
                  data: ProposalCreate, settings: Settings) -> ProposalCreated:
    """The coordinator proposes a doctor the patient agreed to; the doctor answers."""
    request = await _request(session, principal, request_id, lock=True)
    if request.state not in OPEN_STATES:
        raise WrongState(f"The request is {request.state}: no doctor is to be proposed")
    found = await _candidates(session, request, practitioner=data.practitioner_id, limit=1)
    if not found:
        offer = await repository.offer(session, data.practitioner_id)
        if offer is not None and offer.accepting:
            territory = await territory_service.get(session, request.territory_code)
            month = today_in(territory.timezone).replace(day=1)
            if await repository.taken(session, offer.practitioner_id, month) >= offer.per_month:
                raise CapacityExhausted("This doctor has no capacity left this month", field="practitioner_id")
        raise Unprocessable("practitioner_id: not a candidate for this patient (not taking new patients, publics "
                            "that do not fit, no site in the territory, or already proposed or refused)",
                            field="practitioner_id")
    candidate = found[0]
    proposal = MtProposal(request_id=request.id, practitioner_id=candidate.practitioner_id, site_id=candidate.site.id,
                          distance_km=candidate.distance_km, state="pending", patient_agreed=True,
                          created_by=principal.sub, created_at=now())
    session.add(proposal)
    request.state = "proposed"
    await session.flush()
    await session.refresh(proposal)
    _audit(session, principal, "mt_proposal.created", request, proposal_id=str(proposal.id),
           practitioner_id=str(candidate.practitioner_id))
    expires = proposal.created_at.replace(microsecond=0) + dt.timedelta(days=settings.mt_answer_link_days)
    token = links.sign(settings.link_secret, proposal.id, expires)
    link = AnswerLink(token=token, path=links.PATH + token, url=settings.base_url + links.PATH + token,
                      expires_at=expires)
    return ProposalCreated(**ProposalRead.model_validate(proposal).model_dump(), answer_link=link)


async def _answerable(session: AsyncSession, principal: Principal,
                      proposal_id: uuid.UUID) -> tuple[MtProposal, MtRequest]:
    """The doctor's own pending proposal and its request, the request's row locked first (then the proposal's):
    two doctors answering proposals of one patient take turns."""
    first = await repository.proposal(session, proposal_id)
    if first is None or first.practitioner_id != principal.practitioner_id:
        raise NotFound(f"Proposal {proposal_id} not found")
    request = await _request(session, principal, first.request_id, lock=True)
    proposal = await repository.proposal(session, proposal_id, lock=True)
    assert proposal is not None
    await session.refresh(proposal)
    if proposal.state != "pending":
        raise WrongState(f"The proposal is {proposal.state} already")
    return proposal, request


async def accept(session: AsyncSession, principal: Principal, proposal_id: uuid.UUID) -> ProposalRead:
    """The doctor accepts the patient: his capacity of the month is taken in the same transaction; never two
    doctors for one patient, never more than his monthly capacity."""
    proposal, request = await _answerable(session, principal, proposal_id)
    if request.state == "accepted" or request.state == "found":
        raise AlreadyPlaced("Another doctor accepted this patient already")
    if request.state != "proposed":
        raise WrongState(f"The request is {request.state}")
    offer = await repository.offer(session, proposal.practitioner_id, lock=True)
    territory = await territory_service.get(session, request.territory_code)
    today = today_in(territory.timezone)
    if offer is None or not offer.accepting or (offer.until is not None and offer.until < today):
        raise NotAccepting("You do not take new patients now (PUT /v1/practitioners/me/new-patients)")
    if not await repository.take_one(session, proposal.practitioner_id, today.replace(day=1), offer.per_month):
        raise CapacityExhausted(f"You accepted your {offer.per_month} new patients of this month already")
    at = now()
    proposal.state, proposal.answered_at = "accepted", at
    await repository.withdraw_others(session, request.id, proposal.id, at)
    request.state, request.practitioner_id, request.accepted_at = "accepted", proposal.practitioner_id, at
    await session.flush()
    _audit(session, principal, "mt_proposal.accepted", request, proposal_id=str(proposal.id))
    log.info("mt.accepted", mt_request_id=str(request.id), proposal_id=str(proposal.id))
    return ProposalRead.model_validate(proposal)


async def refuse(session: AsyncSession, principal: Principal, proposal_id: uuid.UUID, data: RefuseIn) -> ProposalRead:
    proposal, request = await _answerable(session, principal, proposal_id)
    proposal.state, proposal.refusal_reason, proposal.answered_at = "refused", data.reason, now()
    await session.flush()
    if request.state == "proposed" and await repository.pending_count(session, request.id) == 0:
        request.state = "waiting"
        await session.flush()
    _audit(session, principal, "mt_proposal.refused", request, proposal_id=str(proposal.id), reason=data.reason)
    return ProposalRead.model_validate(proposal)


async def my_proposals(session: AsyncSession, principal: Principal, *, state: str | None, limit: int,
                       offset: int) -> list[DoctorProposal]:
    """The proposals made to the doctor, the newest first; the reading (initials, ages) is audited."""
    rows = await repository.proposals_to(session, _me(principal), state=state, limit=limit, offset=offset)
    if rows:
        audit.record(session, principal, "mt_proposals.listed",
                     detail={"mt_request_ids": [str(r.MtRequest.id) for r in rows]})
    year = now().year
    return [DoctorProposal(**ProposalRead.model_validate(r.MtProposal).model_dump(),
                           request=_summary(r.MtRequest, year)) for r in rows]


# --------------------------------------------------------------------------- access consultations


async def access_slots(session: AsyncSession, principal: Principal, territory_code: str, *,
                       limit: int) -> list[AccessSlot]:
    """The access consultations free in a territory (and the CPTS under it), the soonest first."""
    territory = await _territory(session, principal, territory_code, "territory")
    codes = sorted(await territory_repository.with_children(session, [territory.code]))
    return [AccessSlot(**{**r, "start": r["start_at"], "end": r["end_at"]})
            for r in await repository.access_slots(session, codes, limit)]


async def book_access(session: AsyncSession, principal: Principal, request_id: uuid.UUID,
                      data: AccessBookingIn) -> MtRequestRead:
    """The coordinator orients a patient to an access consultation before his MT is found: the slot is taken in the
    statement that checks it is a free access slot of the request's territory; one per request."""
    request = await _request(session, principal, request_id, lock=True)
    if request.state in ("found", "closed"):
        raise WrongState(f"The request is {request.state}: no access consultation is to be booked")
    if request.access_slot_id is not None:
        raise WrongState("An access consultation is booked for this patient already")
    codes = sorted(await territory_repository.with_children(session, [request.territory_code]))
    if not await repository.book_access(session, data.slot_id, codes):
        kind = await repository.slot_kind(session, data.slot_id, codes)
        if kind == "access":
            raise SlotTaken("This access consultation is taken, held, withdrawn or past", field="slot_id")
        raise Unprocessable("slot_id: not an access consultation of the request's territory", field="slot_id")
    request.access_slot_id, request.access_booked_at, request.access_booked_by = data.slot_id, now(), principal.sub
    await session.flush()
    _audit(session, principal, "mt_request.access_booked", request, slot_id=str(data.slot_id))
    log.info("mt.access_booked", mt_request_id=str(request.id), slot_id=str(data.slot_id))
    return await _read(session, principal, request)


# --------------------------------------------------------------------------- retention


async def purge(session: AsyncSession, *, days: int) -> int:
    """Empty the identity of the requests found or closed more than ``days`` ago; a waiting one is never touched."""
    cutoff = now() - dt.timedelta(days=days)
    count = await repository.purge(session, cutoff)
    audit.record(session, None, "mt_requests.purge", detail={"purged": count, "days": days,
                                                             "cutoff": cutoff.isoformat()})
    log.info("mt.purged", purged=count, days=days)
    return count
