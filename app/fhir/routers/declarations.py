"""The appointment events held back from the national platform or the SAMU (administrators): parked until
who booked has an identifier, refused until retried (``snp declarations retry``), or behind one of those."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from app.auth.dependencies import AdminDep
from app.http.dependencies import SessionDep
from app.http.errors import error_responses
from app.http.schemas import Schema
from app.outbox import held

router = APIRouter(prefix="/v1/declarations", tags=["operations"])

HeldState = Literal["parked", "refused", "behind"]


class HeldDeclaration(Schema):
    reader: Literal["ptf", "hub"] = Field(description="who it is for: ptf, the national platform (FrAppointmentSAS); "
                                          "hub, the SAMU through the Hub Santé (RS-SAS-RDV)")
    event_id: uuid.UUID
    booking_id: uuid.UUID
    kind: str = Field(description="booking.created, booking.cancelled or booking.outcome")
    state: HeldState = Field(description="parked: who booked has no identifier the recipient accepts yet (told once "
                             "the users registry has it); refused: the recipient refused it (told again after "
                             "`snp declarations retry`); behind: after one of those, for the same appointment")
    reason: str = Field(description="why: the registry's missing identifier, or what the recipient answered")
    status_code: int | None = Field(description="the recipient's HTTP status, for a refusal")
    attempts: int
    held_at: dt.datetime
    checked_at: dt.datetime = Field(description="when it was last tried")
    retry_requested_at: dt.datetime | None


@router.get("", response_model=list[HeldDeclaration], operation_id="list_held_declarations",
            responses=error_responses(401, 403, 422))
async def list_held_declarations(
    session: SessionDep,
    _: AdminDep,
    state: HeldState | None = None,
    reader: Literal["ptf", "hub"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[HeldDeclaration]:
    """The appointment events held back from the national platform or the SAMU, oldest first: none is ever
    skipped silently."""
    rows = await held.list_held(session, state=state, reader=reader, limit=limit, offset=offset)
    return [HeldDeclaration.model_validate(dict(row)) for row in rows]
