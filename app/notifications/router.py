"""The effector's feed: every booking event, in order, whether or not a webhook is registered."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.auth.dependencies import require_roles
from app.auth.principal import Principal
from app.http.dependencies import SessionDep
from app.http.errors import error_responses
from app.notifications import service
from app.notifications.service import FeedPage

router = APIRouter(prefix="/v1/effectors", tags=["notifications"])

SelfEffectorDep = Annotated[Principal, Depends(require_roles("effector"))]


@router.get("/me/bookings", response_model=FeedPage, operation_id="list_my_booking_events",
            responses=error_responses(401, 403, 422))
async def list_my_booking_events(
    session: SessionDep,
    principal: SelfEffectorDep,
    since: Annotated[int, Query(ge=0, le=2**63 - 1, description="Events with a seq above this one")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> FeedPage:
    """Your booking events (booking.created, booking.cancelled) in seq order, with the next cursor. Of the
    patient they carry what you need: initials, age and sex; for a home visit name, address and phone; for a
    teleconsultation the phone (such a read is audited)."""
    return await service.feed(session, principal, since, limit)
