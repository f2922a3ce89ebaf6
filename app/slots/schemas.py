from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, field_validator, model_validator

from app.http.schemas import AwareDatetime, Input, Schema
from app.slots.bookers import ALL_BOOKERS, Booker, names

Mode = Literal["in_person", "home_visit", "teleconsultation"]
# snp: an unplanned-care slot; access: an access consultation for a patient without a médecin traitant (docs/mt.md).
SlotKind = Literal["snp", "access"]
Audience = Literal["all", "children", "ehpad"]
State = Literal["free", "held", "booked", "withdrawn", "past"]
MAX_BULK = 5000
MAX_RELEASE = dt.timedelta(days=30)


def _bookers_read(value: object) -> object:
    return names(value) if isinstance(value, int) else value


def _duration(value: object) -> object:
    if not isinstance(value, str | dt.timedelta):
        raise ValueError("must be an ISO 8601 duration such as PT2H")
    return value


BOOKABLE_BY = ("Who may book it: `regulation` (operators, regulators), `urgences` (emergency departments), "
               "`referrers` (city professionals), `cpts` (the CPTS's own professionals). Default: all of them")
RELEASE_BEFORE = ("ISO 8601 duration (PT2H): from this long before its start the slot is open to every booker, "
                  "whatever bookable_by says. Up to 30 days")
BookableBy = Annotated[list[Booker], Field(min_length=1, max_length=4, description=BOOKABLE_BY)]
ReleaseBefore = Annotated[dt.timedelta, BeforeValidator(_duration), Field(description=RELEASE_BEFORE)]
BookersRead = Annotated[list[Booker], BeforeValidator(_bookers_read), Field(description=BOOKABLE_BY)]


def check_release(value: dt.timedelta | None) -> dt.timedelta | None:
    if value is not None and not dt.timedelta(0) <= value <= MAX_RELEASE:
        raise ValueError("must lie between PT0S and P30D")
    return value


def all_bookers() -> list[Booker]:
    return list(ALL_BOOKERS)


class SlotCreate(Input):
    practitioner_id: uuid.UUID | None = Field(
        default=None, description="Admins publish for a practitioner; effectors publish for themselves"
    )
    site_id: uuid.UUID
    start: AwareDatetime
    end: AwareDatetime
    mode: Mode
    audience: Audience = "all"
    kind: SlotKind = Field(default="snp", description="snp (an SNP slot), or access: an access consultation, booked "
                           "by the CPTS's coordinator for a patient without a médecin traitant; never in the SNP "
                           "search, the FHIR facade, its bulk files nor the participation hours")
    bookable_by: BookableBy = Field(default_factory=all_bookers)
    release_before: ReleaseBefore | None = None

    _release = field_validator("release_before")(check_release)


class SlotBulkItem(SlotCreate):
    source_key: str | None = Field(
        default=None, min_length=1, max_length=400,
        description="Your stable identity of this slot: an item whose key the practitioner already has is skipped",
    )


class SlotBulk(Input):
    slots: list[dict[str, Any]] = Field(
        min_length=1, max_length=MAX_BULK,
        description=f"Up to {MAX_BULK} slots, each as in POST /v1/slots (optionally with a source_key)",
        json_schema_extra={"items": SlotBulkItem.model_json_schema()},
    )

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        # Each item is validated as a SlotBulkItem, which refuses NUL in its own fields with their index.
        return value


class SlotRead(Schema):
    id: uuid.UUID
    practitioner_id: uuid.UUID
    site_id: uuid.UUID
    territory_code: str
    start: dt.datetime
    end: dt.datetime
    mode: str
    audience: str
    kind: str = "snp"
    bookable_by: BookersRead = Field(default_factory=all_bookers)
    release_before: dt.timedelta | None = None
    over_capacity: bool = Field(default=False, description="an over-capacity appointment, not a published slot")
    status: str = Field(description="Stored status: free, booked or withdrawn")
    state: State = Field(description="free, held, booked, withdrawn or past (a free slot that has begun)")
    held_until: dt.datetime | None = None
    source: str
    rule_id: uuid.UUID | None = None
    created_at: dt.datetime
    withdrawn_at: dt.datetime | None = None


class Rejection(Schema):
    index: int
    field: str | None = None
    reason: str
    conflicting_slot_id: uuid.UUID | None = None
    conflicting_index: int | None = None
    uid: str | None = Field(default=None, description="Calendar imports: the event's UID")
    start: dt.datetime | None = Field(default=None, description="Calendar imports: the occurrence's start")


class BulkResult(Schema):
    created: int
    skipped: int = Field(description="Items whose source_key the practitioner already had (nothing written)")
    ids: list[uuid.UUID | None] = Field(description="Per item, in order: the new slot id, or null when skipped")


class IcsImportResult(Schema):
    created: int
    skipped: int = Field(description="Occurrences already imported earlier (same UID and start)")
    events: int = Field(description="SNP events recognised in the calendar")
    ids: list[uuid.UUID]


# --- availability rules ---------------------------------------------------------------------

class RuleBase(Input):
    _release = field_validator("release_before", check_fields=False)(check_release)

    @field_validator("weekdays", check_fields=False)
    @classmethod
    def _distinct_days(cls, value: list[int] | None) -> list[int] | None:
        if value is None:
            return None
        if any(d < 1 or d > 7 for d in value):
            raise ValueError("weekdays are ISO numbers: 1 = Monday ... 7 = Sunday")
        return sorted(set(value))


class RuleCreate(RuleBase):
    practitioner_id: uuid.UUID | None = None
    site_id: uuid.UUID
    mode: Mode
    audience: Audience = "all"
    bookable_by: BookableBy = Field(default_factory=all_bookers)
    release_before: ReleaseBefore | None = None
    weekdays: list[int] = Field(min_length=1, max_length=7, examples=[[2, 4]])
    start_time: dt.time = Field(examples=["18:00"], description="Local time of the site's territory")
    end_time: dt.time = Field(examples=["20:00"])
    slot_minutes: int = Field(ge=5, le=720, examples=[20])
    valid_from: dt.date
    valid_until: dt.date | None = None

    @model_validator(mode="after")
    def _coherent(self) -> RuleCreate:
        check_times(self.start_time, self.end_time, self.slot_minutes)
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError("valid_until: must not be before valid_from")
        return self


class RuleUpdate(RuleBase):
    site_id: uuid.UUID | None = None
    mode: Mode | None = None
    audience: Audience | None = None
    bookable_by: BookableBy | None = None
    release_before: ReleaseBefore | None = Field(default=None, description=RELEASE_BEFORE + "; null: never")
    weekdays: list[int] | None = Field(default=None, min_length=1, max_length=7)
    start_time: dt.time | None = None
    end_time: dt.time | None = None
    slot_minutes: int | None = Field(default=None, ge=5, le=720)
    valid_until: dt.date | None = None


def check_times(start: dt.time, end: dt.time, minutes: int) -> None:
    if start.tzinfo is not None or end.tzinfo is not None:
        raise ValueError("start_time: local wall-clock time without offset (the territory's time zone applies)")
    if end <= start:
        raise ValueError("end_time: must be after start_time (a rule does not cross midnight)")
    span = (dt.datetime.combine(dt.date.min, end) - dt.datetime.combine(dt.date.min, start)).total_seconds()
    if span < minutes * 60:
        raise ValueError("slot_minutes: longer than the daily window between start_time and end_time")


class RuleRead(Schema):
    id: uuid.UUID
    practitioner_id: uuid.UUID
    site_id: uuid.UUID
    mode: str
    audience: str
    bookable_by: BookersRead = Field(default_factory=all_bookers)
    release_before: dt.timedelta | None = None
    weekdays: list[int]
    start_time: dt.time
    end_time: dt.time
    slot_minutes: int
    valid_from: dt.date
    valid_until: dt.date | None
    active: bool
    revision: int
    timezone: str = Field(description="Time zone the local times are read in (the site's territory)")
    created_at: dt.datetime
    ended_at: dt.datetime | None


class RuleWritten(RuleRead):
    slots_created: int = Field(description="Slots generated by this call")
    slots_withdrawn: int = Field(description="Future free slots withdrawn by this call")


class ExtendResult(Schema):
    rules: int
    slots_created: int
    horizon: dt.date


# --- participation --------------------------------------------------------------------------

class ParticipationWeek(Schema):
    week: str = Field(examples=["2026-W48"])
    week_start: dt.date
    slots_offered: int
    hours_offered: float
    reaches_forfait: bool
    orientations_received: int = Field(description="bookings of the week's slots and over-capacity appointments")
    over_capacity: int = Field(default=0, description="of which over-capacity appointments (surnuméraire)")
    fulfilled: int
    noshow: int


class ParticipationTotal(Schema):
    weeks: int
    weeks_reaching_forfait: int
    slots_offered: int
    hours_offered: float
    orientations_received: int
    over_capacity: int = 0
    fulfilled: int
    noshow: int


class Participation(Schema):
    model_config = ConfigDict(from_attributes=True)

    practitioner_id: uuid.UUID
    rpps: str
    from_: dt.date = Field(serialization_alias="from")
    to: dt.date
    forfait_hours_per_week: float
    weeks: list[ParticipationWeek]
    total: ParticipationTotal
