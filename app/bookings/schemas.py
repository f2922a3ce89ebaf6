"""Search, hold and booking payloads."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import Discriminator, Field, StrictBool, Tag, ValidationInfo, field_validator

from app.calls.schemas import NOTIFY, NOTIFY_CONSENT, BirthYear, CallPatient, Notify, NotifyConsent, Text
from app.http.schemas import AwareDatetime, Input, Schema
from app.slots.bookers import Booker

Mode = Literal["in_person", "home_visit", "teleconsultation"]
Audience = Literal["all", "children", "ehpad"]


class SlotPractitioner(Schema):
    id: uuid.UUID
    rpps: str
    family_name: str
    given_name: str
    profession_code: str = Field(default="10", description="TRE-G15 (10 médecin, 60 infirmier…)")
    specialty_code: str | None = Field(default=None, description="TRE-R38 (SM54 médecine générale…)")
    languages: list[str] = Field(default_factory=lambda: ["fr"])


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
    bookable_by: list[Booker] = Field(description="who may book it (app: bookers); you may, since it was found")
    release_before: dt.timedelta | None = Field(
        default=None, description="from this long before its start it is open to every booker")
    territory_code: str
    practitioner: SlotPractitioner
    site: SlotSite
    distance_km: float | None = Field(default=None, description="Great-circle distance from the given point")


class NearPoint(Schema):
    """Where distances were measured from, and why."""

    lat: float
    lon: float
    postcode: str | None = None
    source: Literal["near_lat", "near_postcode", "call"] = Field(
        description="near_lat/near_lon given; near_postcode given (its communes' centroid, La Poste); or the "
        "postcode of the call named by call_id")


class SearchPage(Schema):
    items: list[FoundSlot]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; null at the end")
    near: NearPoint | None = Field(default=None, description="the point distances are measured from, if any")
    audience: str | None = Field(default=None, description="the patient's public searched for (given, or a "
                                 "child under 16 by the call's birth year)")


class ChosenSlot(Schema):
    """The slot the national platform's link names, free or not."""

    id: uuid.UUID
    start: dt.datetime
    end: dt.datetime
    mode: str
    territory_code: str
    free: bool = Field(description="still free for you (not held by another call, booked, withdrawn or started)")


class Agenda(Schema):
    """The booking page of the national platform's link: the slot, and its doctor's next free slots."""

    chosen: ChosenSlot
    slot: FoundSlot | None = Field(description="the slot as search shows it, when it is still free; null when it "
                                   "was taken meanwhile")
    practitioner: SlotPractitioner
    call_territory_code: str = Field(description="where the call of the patient is entered (the slot's "
                                     "département)")
    next_slots: list[FoundSlot] = Field(description="the doctor's next free slots you may book, soonest first "
                                        "(the chosen one apart)")


class HoldCreate(Input):
    call_id: uuid.UUID


class HoldRead(Schema):
    slot_id: uuid.UUID
    call_id: uuid.UUID
    held_until: dt.datetime


class SecondBooking(Input):
    """A call holds one active booking: a second one says whether it replaces the first or adds to it."""

    replaces: uuid.UUID | None = Field(default=None, description=(
        "The call's active booking this one replaces: it is cancelled in the same statement (its slot "
        "freed, its effector told)"))
    also: StrictBool = Field(default=False, description="A deliberate second active booking for the call")

    @field_validator("also")
    @classmethod
    def _one_or_the_other(cls, also: bool, info: ValidationInfo) -> bool:
        if also and info.data.get("replaces") is not None:
            raise ValueError("give replaces or also, not both")
        return also


class BookingForCall(SecondBooking):
    """A slot booked for a call of the regulation (operator, regulator; urgences for a call it sees)."""

    slot_id: uuid.UUID
    call_id: uuid.UUID


class RedirectedPatient(CallPatient):
    """The effector must know whom he sees: the family name and the birth year are required. ``email``: where
    the patient is told of his appointment (with ``notify``)."""

    family_name: Text = Field(min_length=1, max_length=100)
    birth_year: BirthYear


class EdRedirection(Input):
    """Role `urgences`: a patient redirected from the emergency department (the call, channel `urgences`,
    is made with the booking). Role `referrer`: a patient a city professional refers (channel
    `professionnel`, with the referrer's kind). The patient's phone is required (if the doctor cancels, the
    call goes back to the regulation, which must call the patient back) unless `no_phone_reason` says why
    there is none."""

    slot_id: uuid.UUID
    patient: RedirectedPatient | None = Field(default=None, description="The patient of the new call (required)")
    reason: str | None = Field(default=None, max_length=2000, description="Why the patient is redirected")
    no_phone_reason: Text | None = Field(default=None, min_length=1, max_length=300,
                                         description="why the patient has no phone (kept with the call's reason)")
    notify: Notify = Field(default="none", description=NOTIFY + " (kept with the new call, as a call keeps it)")
    notify_consent: NotifyConsent | None = Field(default=None, description=NOTIFY_CONSENT)


class OverCapacityBooking(SecondBooking):
    """Role regulator (or operator): an appointment a volunteer doctor agreed on the phone to give at a time
    outside his published slots (rendez-vous en surnuméraire). Refused when he has not said he accepts
    them (`accepts_over_capacity`) or has a slot or appointment then."""

    kind: Literal["over_capacity"]
    call_id: uuid.UUID
    practitioner_id: uuid.UUID
    site_id: uuid.UUID = Field(description="Where the patient is seen (for a home visit: the doctor's site)")
    start: AwareDatetime
    end: AwareDatetime
    mode: Mode = "in_person"

    @field_validator("start", "end")
    @classmethod
    def _in_our_years(cls, value: dt.datetime) -> dt.datetime:
        if not 2000 <= value.year <= 2099:  # the local year (converting year 9999 to UTC would overflow)
            raise ValueError("must lie between the years 2000 and 2099")
        return value

    @field_validator("end")
    @classmethod
    def _length(cls, end: dt.datetime, info: ValidationInfo) -> dt.datetime:
        start = info.data.get("start")
        if start is not None and not dt.timedelta(minutes=5) <= end - start <= dt.timedelta(hours=12):
            raise ValueError("an appointment lasts from 5 minutes to 12 hours after its start")
        return end


def _shape(value: object) -> str:
    if isinstance(value, dict):
        if value.get("kind") == "over_capacity":
            return "<over_capacity>"
        return "<for_call>" if "call_id" in value else "<ed_redirection>"
    if isinstance(value, OverCapacityBooking):
        return "<over_capacity>"
    return "<for_call>" if isinstance(value, BookingForCall) else "<ed_redirection>"


# A booking is one of three shapes: `kind: over_capacity`, an appointment outside the published slots;
# with a call_id, a slot for that call; without, an ED redirection. (Tags are written <…>: an error's
# field leaves them out, app.errors.)
BookingCreate = Annotated[
    Annotated[BookingForCall, Tag("<for_call>")] | Annotated[EdRedirection, Tag("<ed_redirection>")]
    | Annotated[OverCapacityBooking, Tag("<over_capacity>")],
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
    kind: Literal["slot", "over_capacity"] = Field(
        default="slot", description="a published slot, or an over-capacity appointment (surnuméraire)")
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
    report: ReportState | None = Field(default=None, description="the visit's report to the médecin traitant, when "
                                       "one was written (on a single booking's read)")


class CancelIn(Input):
    reason: str | None = Field(default=None, min_length=1, max_length=500, description=(
        "Why (médecin indisponible, patient guéri…): shown to the regulators who re-orient the call. "
        "Never the patient's identity."))


REPORT_MAX = 4000


class ReportPatient(Input):
    """The identity traits the médecin traitant files the report by, asked only when a report is written."""

    # No control character (a line break would end up in a mail's headers and documents).
    birth_name: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$",
                            description="nom de naissance")
    given_name: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$",
                            description="premier prénom de naissance")
    birth_date: dt.date = Field(description="date de naissance (the call keeps only a birth year)")
    sex: Literal["F", "M", "U"]

    @field_validator("birth_date")
    @classmethod
    def _born(cls, value: dt.date) -> dt.date:
        if value > dt.date.today() or value.year < 1900:
            raise ValueError("a birth date between 1900 and today")
        return value


class VisitReport(Input):
    """The visit's report to the patient's médecin traitant (sealed at rest, emptied with the call's identity). It
    is sent by secure mail (MSSanté) only if the call says the patient was told and did not object
    (`gp_report: not_objected`) and names his médecin traitant; otherwise it is withheld and its text dropped."""

    text: str = Field(min_length=1, max_length=REPORT_MAX, description="the report, free text")
    patient: ReportPatient


class OutcomeCreate(Input):
    status: Literal["fulfilled", "noshow"]
    note: str | None = Field(default=None, max_length=2000)
    report: VisitReport | None = Field(default=None, description="with `fulfilled` only: the visit's report to the "
                                       "patient's médecin traitant")


class ReportState(Schema):
    """How the visit's report to the médecin traitant fares (never its content)."""

    id: uuid.UUID = Field(description="its message id (the secure mail's Message-ID)")
    state: Literal["pending", "sent", "failed", "withheld"]
    attempts: int
    created_at: dt.datetime
    sent_at: dt.datetime | None = None
    failed_at: dt.datetime | None = None
    last_error: str | None = Field(default=None, description="why the last attempt failed, or why it was withheld")
