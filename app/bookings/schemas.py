"""Search, hold and booking payloads."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import Discriminator, Field, Tag

from app.schemas import Input, Schema
from app.validators import Postcode

Mode = Literal["in_person", "home_visit", "teleconsultation"]
Audience = Literal["all", "children", "ehpad"]


class SlotPractitioner(Schema):
    id: uuid.UUID
    rpps: str
    family_name: str
    given_name: str


class SlotSite(Schema):
    id: uuid.UUID
    name: str
    kind: str
    address: str
    postcode: str
    lat: float
    lon: float


class FoundSlot(Schema):
    """A free slot as search returns it."""

    id: uuid.UUID
    start: dt.datetime
    end: dt.datetime
    mode: str
    audience: str
    territory_code: str
    practitioner: SlotPractitioner
    site: SlotSite
    distance_km: float | None = Field(default=None, description="Great-circle distance from the given point")


class SearchPage(Schema):
    items: list[FoundSlot]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; null at the end")


class HoldCreate(Input):
    call_id: uuid.UUID


class HoldRead(Schema):
    slot_id: uuid.UUID
    call_id: uuid.UUID
    held_until: dt.datetime


class PatientIn(Input):
    family_name: str | None = Field(default=None, max_length=100)
    given_name: str | None = Field(default=None, max_length=100)
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    sex: Literal["F", "M", "U"] | None = None
    phone: str | None = Field(default=None, max_length=20, pattern=r"^\+?[0-9 .-]{6,20}$")
    postcode: Postcode | None = None


class BookingForCall(Input):
    """A slot booked for a call of the regulation (operator, regulator; urgences for a call it sees)."""

    slot_id: uuid.UUID
    call_id: uuid.UUID


class EdRedirection(Input):
    """Role `urgences` only: a patient redirected from the emergency department; the call (channel
    `urgences`) is made with the booking."""

    slot_id: uuid.UUID
    patient: PatientIn | None = Field(default=None, description="The patient of the new call")
    reason: str | None = Field(default=None, max_length=2000, description="Why the patient is redirected")


def _shape(value: object) -> str:
    if isinstance(value, dict):
        return "<for_call>" if "call_id" in value else "<ed_redirection>"
    return "<for_call>" if isinstance(value, BookingForCall) else "<ed_redirection>"


# A booking is one of the two shapes: with a call_id, for that call; without, an ED redirection. (Tags
# are written <…>: an error's field leaves them out, app.errors.)
BookingCreate = Annotated[
    Annotated[BookingForCall, Tag("<for_call>")] | Annotated[EdRedirection, Tag("<ed_redirection>")],
    Discriminator(_shape),
]


class BookedSlot(Schema):
    id: uuid.UUID
    start: dt.datetime
    end: dt.datetime
    mode: str
    territory_code: str
    practitioner_id: uuid.UUID
    site_id: uuid.UUID


class BookingRead(Schema):
    id: uuid.UUID
    slot_id: uuid.UUID
    call_id: uuid.UUID
    status: str
    created_by: str | None
    created_at: dt.datetime
    cancelled_at: dt.datetime | None = None
    cancel_reason: str | None = Field(default=None, description="why it was cancelled, as said by who cancelled")
    outcome: str | None = None
    outcome_note: str | None = None
    outcome_at: dt.datetime | None = None
    slot: BookedSlot


class CancelIn(Input):
    reason: str | None = Field(default=None, min_length=1, max_length=500, description=(
        "Why (médecin indisponible, patient guéri…): shown to the regulators who re-orient the call. "
        "Never the patient's identity."))


class OutcomeCreate(Input):
    status: Literal["fulfilled", "noshow"]
    note: str | None = Field(default=None, max_length=2000)
