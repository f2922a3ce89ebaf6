"""Bookings (under /v1/bookings), and the search and hold of the slots to book (under /v1/slots)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from fastapi.responses import HTMLResponse, JSONResponse

from app.auth.dependencies import OperatorDep, SearcherDep, require_roles
from app.auth.principal import Principal
from app.bookings import patient_link, search, service
from app.bookings.schemas import (
    Agenda,
    Audience,
    BookingCreate,
    BookingRead,
    CancelIn,
    HoldCreate,
    HoldRead,
    Mode,
    OutcomeCreate,
    SearchPage,
)
from app.bookings.search import CURSOR_PATTERN
from app.http.dependencies import ReadsDep, SessionDep, SettingsDep, StatementsDep
from app.http.errors import error_responses
from app.http.schemas import AwareDatetime
from app.platform import pages
from app.platform.errors import NotFound
from app.sites.schemas import SiteKind
from app.territories.schemas import CODE_PATTERN

router = APIRouter(prefix="/v1/bookings", tags=["bookings"])
slot_search_router = APIRouter(prefix="/v1/slots", tags=["slots"])

BookingReaderDep = Annotated[
    Principal, Depends(require_roles("operator", "regulator", "urgences", "referrer", "admin", "effector"))
]
SlotEffectorDep = Annotated[Principal, Depends(require_roles("effector"))]


@slot_search_router.get("/search", response_model=SearchPage, operation_id="search_slots",
                  responses=error_responses(401, 403, 404, 422))
async def search_slots(
    reads: ReadsDep,
    principal: SearcherDep,
    territory: Annotated[str | None, Query(
        pattern=CODE_PATTERN, description="Territory code; a département includes its CPTS")] = None,
    start_from: Annotated[AwareDatetime | None, Query(description="Earliest start (ISO 8601 with offset)")] = None,
    start_to: Annotated[AwareDatetime | None, Query(description="Starts before this instant")] = None,
    mode: Mode | None = None,
    audience: Annotated[Audience | None, Query(
        description="The patient's public: children or ehpad also match general slots; all matches general only"
    )] = None,
    near_lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    near_lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    near_postcode: Annotated[str | None, Query(
        pattern=r"^[0-9]{5}$", description="The patient's postcode: distances from its communes' centroid")] = None,
    call_id: Annotated[uuid.UUID | None, Query(
        description="The call searched for: without a point, its postcode is used; without an audience, a "
        "patient under 16 gets the children's slots too")] = None,
    radius_km: Annotated[float | None, Query(gt=0, le=1000)] = None,
    profession: Annotated[str | None, Query(
        pattern=r"^[0-9]{2}$", description="TRE-G15 profession code: 10 médecin, 60 infirmier, 70 kiné…")] = None,
    specialty: Annotated[str | None, Query(
        pattern=r"^S[A-Z]{1,2}[0-9]{2}$", description="TRE-R38 specialty code: SM54 médecine générale…")] = None,
    language: Annotated[str | None, Query(pattern=r"^[a-z]{2}$", description="a language the practitioner speaks "
                                          "(ISO 639-1)")] = None,
    site_kind: SiteKind | None = None,
    sort: Annotated[Literal["start", "distance", "soonest_near"], Query(
        description="`start`: soonest first. `distance`: nearest first (needs a point: near_lat and near_lon, "
        "near_postcode, or a call with a postcode). `soonest_near`: nearest among the soonest — by the day the "
        "slot starts on in its territory's local time (Europe/Paris in metropolitan France), then nearest, then "
        "soonest: a slot today 8 km away comes before one tomorrow 2 km away (needs a point, as distance). "
        "The orders by distance page with `o<n>` cursors")] = "start",
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    cursor: Annotated[str | None, Query(
        max_length=60, description="next_cursor of the previous page: `s<microseconds since 1970>.<slot id, 32 hex>` "
        "(soonest first) or `o<n>` (skip n slots)", json_schema_extra={"pattern": CURSOR_PATTERN},
    )] = None,
) -> Response:
    """Free slots (not held, booked, withdrawn or started) of a territory, soonest first (or as `sort` says),
    paginated."""
    on_primary = reads.on_primary
    page = await reads.run(lambda session, _: search.search(
        session, principal, territory=territory, start_from=start_from, start_to=start_to, mode=mode,
        audience=audience, near_lat=near_lat, near_lon=near_lon, radius_km=radius_km, sort=sort, limit=limit,
        cursor=cursor, near_postcode=near_postcode, call_id=call_id, profession=profession, specialty=specialty,
        language=language, site_kind=site_kind, on_primary=on_primary,
    ), not_there_yet=NotFound)  # a call created a moment ago may not be on the replica yet
    # Built by the service from SQL rows already: no second validation on the hot path, and the page
    # written to JSON by pydantic's core in one step (not to models, then a dict, then by the json module).
    return Response(search.page_json(page), media_type="application/json")


@slot_search_router.get("/{slot_id:uuid}/agenda", response_model=Agenda, operation_id="slot_agenda",
                        responses=error_responses(401, 403, 404))
async def slot_agenda(slot_id: uuid.UUID, session: SessionDep, principal: OperatorDep) -> Agenda:
    """The booking page of the national platform's link (a Slot's `comment`): the slot, whether it is still free
    for you, and its doctor's next free slots — what to offer when it was taken meanwhile. Read on the primary:
    "free" is said as of now, never as a replica last saw it."""
    return Agenda.model_validate(await search.agenda(session, principal, slot_id))


@slot_search_router.post("/{slot_id:uuid}/hold", response_model=HoldRead, operation_id="hold_slot",
                   responses=error_responses(401, 403, 404, 409, 422))
async def hold_slot(
    slot_id: uuid.UUID, data: HoldCreate, statements: StatementsDep, principal: OperatorDep, settings: SettingsDep
) -> HoldRead:
    """Hold a free slot for a call for a few minutes (SNP_HOLD_MINUTES); others see it as taken meanwhile."""
    return await service.hold(statements, principal, slot_id, data.call_id, settings.hold_minutes)


@slot_search_router.delete("/{slot_id:uuid}/hold", status_code=204, operation_id="release_slot_hold",
                     responses=error_responses(401, 403, 404, 409, 422))
async def release_slot_hold(
    slot_id: uuid.UUID, call_id: uuid.UUID, session: SessionDep, principal: OperatorDep
) -> Response:
    """Release the hold this call has on the slot."""
    await service.release(session, principal, slot_id, call_id)
    return Response(status_code=204)


@router.post("", status_code=201, response_model=BookingRead, operation_id="create_booking",
             responses=error_responses(401, 403, 404, 409, 422))
async def create_booking(
    data: BookingCreate,
    statements: StatementsDep,
    principal: SearcherDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(
        alias="Idempotency-Key", min_length=1, max_length=200,
        description="Same key and body → the first answer again; same key, other body → 422",
    )] = None,
) -> JSONResponse:
    """Book a slot for a call (or, for role urgences, for a redirected patient); a taken slot is 409 SlotTaken."""
    booked = await service.book(statements, principal, data, idempotency_key, settings.slot_horizon_days)
    headers = {"Idempotent-Replayed": "true"} if booked.replayed else None
    return JSONResponse(booked.body, status_code=201, headers=headers)


@router.get("", response_model=list[BookingRead], operation_id="list_bookings",
            responses=error_responses(401, 403, 422))
async def list_bookings(
    session: SessionDep,
    principal: BookingReaderDep,
    mine: Annotated[bool, Query(description="only the bookings I made (an ED nurse: my redirections)")] = False,
    status: Annotated[Literal["active", "cancelled"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> list[BookingRead]:
    """Bookings newest first: those of my territories (an effector: of his slots; a referrer: those he
    made), or `mine=true`."""
    return await service.list_(session, principal, mine=mine, status=status, limit=limit, offset=offset)


@router.get("/{booking_id:uuid}", response_model=BookingRead, operation_id="get_booking",
            responses=error_responses(401, 403, 404, 422))
async def get_booking(booking_id: uuid.UUID, session: SessionDep, principal: BookingReaderDep) -> BookingRead:
    """One booking: for the booker, staff of its territory, or the slot's effector."""
    return await service.get(session, principal, booking_id)


@router.post("/{booking_id:uuid}/cancel", response_model=BookingRead, operation_id="cancel_booking",
             responses=error_responses(401, 403, 404, 409, 422))
async def cancel_booking(
    booking_id: uuid.UUID, session: SessionDep, principal: BookingReaderDep, data: CancelIn | None = None
) -> BookingRead:
    """Cancel a booking; its slot is free again if it has not started, and the effector is told. The
    call's slot decision is revoked and, left without an active booking, the call goes back to the queue
    as `to_reorient` (its territory's consoles are told at once)."""
    return await service.cancel(session, principal, booking_id, data)


@router.post("/{booking_id:uuid}/outcome", response_model=BookingRead, operation_id="post_booking_outcome",
             responses=error_responses(401, 403, 404, 409, 422))
async def post_booking_outcome(
    booking_id: uuid.UUID, data: OutcomeCreate, session: SessionDep, principal: SlotEffectorDep, settings: SettingsDep
) -> BookingRead:
    """The effector says whether the patient came (fulfilled or noshow), once, after the slot's start; with a
    visit that took place he may add its report to the patient's médecin traitant and the identity traits the
    doctor files it by: it goes by secure mail (MSSanté) if the call says the patient was told and did not
    object, and is withheld otherwise (`report` on the booking says which, and how its delivery fares)."""
    return await service.set_outcome(session, principal, booking_id, data, settings.mssante_give_up_seconds)


__all__ = ["router", "slot_search_router"]


patient_router = APIRouter(tags=["patient"])
PatientToken = Annotated[str, Path(max_length=80, description="the signed link of the patient's confirmation")]
PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}, "description": "the page (French, without JavaScript)"},
    404: {"content": {"text/html": {}}, "description": "an unknown, altered or expired link (past the appointment's "
          "start)"},
}


@patient_router.get("/p/{token}", response_class=HTMLResponse, operation_id="show_patient_link",
                    responses=PAGE_RESPONSES)
async def show_patient_link(token: PatientToken, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """Public: the patient's appointment and a button to cancel it. Changes nothing (mail scanners and SMS
    previews fetch links)."""
    status, body = await patient_link.show(session, token, settings, act=False)
    return HTMLResponse(body, status_code=status, headers=pages.HEADERS)


@patient_router.post("/p/{token}", response_class=HTMLResponse, operation_id="cancel_by_patient_link",
                     responses=PAGE_RESPONSES)
async def cancel_by_patient_link(token: PatientToken, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """Public: the patient cancels his appointment (single use; valid until its start): the slot is freed, the
    booking cancelled by the patient, the call back to the regulation's queue (to_reorient). Again: it says it is
    already done."""
    status, body = await patient_link.show(session, token, settings, act=True)
    return HTMLResponse(body, status_code=status, headers=pages.HEADERS)


@patient_router.post("/p/{token}/no-reminder", response_class=HTMLResponse,
                     operation_id="stop_reminders_by_patient_link", responses=PAGE_RESPONSES)
async def stop_reminders_by_patient_link(token: PatientToken, session: SessionDep,
                                         settings: SettingsDep) -> HTMLResponse:
    """Public: the patient (who will come) asks for no reminder of this appointment: those not sent yet are
    withdrawn; the appointment stays. Again: the same page."""
    status, body = await patient_link.stop_reminders(session, token, settings)
    return HTMLResponse(body, status_code=status, headers=pages.HEADERS)
