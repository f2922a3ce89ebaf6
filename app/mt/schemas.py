"""What the MT queue takes and gives, and its rules, each written once here: a request's priority from the
patient's situation, the publics a patient counts in, which doctor's publics fit him (docs/mt.md)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Literal

from pydantic import Field, StrictBool

from app.calls.schemas import CallPatient, Text
from app.http.schemas import Input, Schema
from app.territories.schemas import Code

# What a doctor says he takes: patients in ALD, children, the elderly, people with a disability, anyone.
DoctorPublic = Literal["ald", "children", "elderly", "disability", "any"]
# What is declared of a patient's situation; the age publics (children, elderly) come from his birth year.
Declared = Literal["ald", "disability", "pregnancy"]
Source = Literal["regulation", "effector", "referrer", "self", "coordinator", "import"]
State = Literal["waiting", "proposed", "accepted", "found", "closed"]
ClosedReason = Literal["found_elsewhere", "unreachable", "moved", "deceased"]
Priority = Literal["high", "medium", "normal"]
PRIORITIES: tuple[str, ...] = ("high", "medium", "normal")  # the order of the waiting list
RefusalReason = Literal["no_capacity", "publics", "too_far", "patient_known", "other"]
ProposalState = Literal["pending", "accepted", "refused", "withdrawn"]
# Who may enter a request of each source through POST /v1/mt-requests (self and import have their own ways in).
SOURCE_ROLES: dict[str, tuple[str, ...]] = {
    "regulation": ("regulator", "operator"), "effector": ("effector",), "referrer": ("referrer",),
    "coordinator": ("coordinator", "admin"),
}

# --------------------------------------------------------------------------- the rules, once

CHILD_UNDER = 6  # a child: under 6 this year (current year − birth year < 6)
ELDERLY_FROM = 70  # elderly: 70 or more this year (current year − birth year ≥ 70)
# A reason of the priority → the priority it gives at least.
REASONS: dict[str, Priority] = {
    "ald": "high", "pregnancy": "high", "disability": "high",
    "child_under_6": "medium", "elderly_70": "medium", "snp_visit": "medium",
}


def age_this_year(birth_year: int | None, year: int) -> int | None:
    return None if birth_year is None else max(0, year - birth_year)


def age_publics(birth_year: int | None, year: int) -> list[str]:
    """The age publics a birth year puts the patient in: children (under 6), elderly (70 and more)."""
    age = age_this_year(birth_year, year)
    if age is None:
        return []
    return ["children"] if age < CHILD_UNDER else ["elderly"] if age >= ELDERLY_FROM else []


def matching_publics(declared: Sequence[str], birth_year: int | None, year: int) -> list[str]:
    """The doctor's publics the patient counts in: ALD and disability as declared, children and elderly from the
    birth year (a pregnancy is no doctor's public: it raises the priority only)."""
    return sorted({p for p in declared if p in ("ald", "disability")} | set(age_publics(birth_year, year)))


def priority_of(
    declared: Sequence[str], birth_year: int | None, year: int, *, snp_visit: bool
) -> tuple[Priority, list[str]]:
    """The priority of a request and its reasons: ``high`` for ALD, a pregnancy or a disability; ``medium`` for a
    child under 6, a person of 70 or more, or a patient leaving an SNP visit (entered by the effector who saw him,
    or by the regulation from a call); ``normal`` otherwise."""
    reasons: list[str] = [p for p in ("ald", "pregnancy", "disability") if p in declared]
    age = age_this_year(birth_year, year)
    if age is not None and age < CHILD_UNDER:
        reasons.append("child_under_6")
    if age is not None and age >= ELDERLY_FROM:
        reasons.append("elderly_70")
    if snp_visit:
        reasons.append("snp_visit")
    levels = [REASONS[r] for r in reasons]
    return next((p for p in PRIORITIES if p in levels), "normal"), reasons


def fits(doctor_publics: list[str], patient_publics: list[str]) -> bool:
    """A doctor takes a patient when he takes anyone, or at least one of the patient's publics. (The same rule in
    SQL: ``'any' = ANY(o.publics) OR o.publics && :patient_publics``, app/mt/repository.py.)"""
    return "any" in doctor_publics or bool(set(doctor_publics) & set(patient_publics))


# --------------------------------------------------------------------------- doctors who take new patients


class NewPatientsIn(Input):
    """A doctor's offer to take new patients as their médecin traitant (the whole offer: PUT replaces it)."""

    accepting: StrictBool = Field(description="he takes new patients now")
    per_month: int = Field(ge=0, le=100, description="how many new patients a month at most (≥ 1 when accepting)")
    publics: list[DoctorPublic] = Field(default_factory=list, max_length=5,
                                        description="whom he takes: ald, children, elderly, disability, any (at "
                                        "least one when accepting)")
    site_ids: list[uuid.UUID] = Field(default_factory=list, max_length=50,
                                      description="where: among his own sites (at least one when accepting)")
    until: dt.date | None = Field(default=None, description="the last day of the offer; null: until he says")
    public_listing: StrictBool = Field(default=False, description="appear on the CPTS's public list (name, site, "
                                       "publics; never his load)")


class SiteBrief(Schema):
    id: uuid.UUID
    name: str
    address: str
    postcode: str
    lat: float
    lon: float


class NewPatientsRead(Schema):
    practitioner_id: uuid.UUID
    accepting: bool
    per_month: int
    publics: list[str]
    site_ids: list[uuid.UUID]
    until: dt.date | None
    public_listing: bool
    taken_this_month: int = Field(description="new patients accepted this month")
    capacity_left: int = Field(description="per_month − taken_this_month (0 when not accepting)")
    updated_at: dt.datetime | None


class NewPatientDoctor(Schema):
    """A doctor who takes new patients, as the coordination reads it (with his load)."""

    practitioner_id: uuid.UUID
    family_name: str
    given_name: str
    specialty: str
    publics: list[str]
    per_month: int
    taken_this_month: int
    capacity_left: int
    until: dt.date | None
    public_listing: bool
    sites: list[SiteBrief]


class PublicDoctor(Schema):
    """A doctor who takes new patients, as the public list shows him: never his load."""

    name: str = Field(description="Dr given name family name")
    specialty: str
    publics: list[str]
    sites: list[SiteBrief]


# --------------------------------------------------------------------------- the waiting list


class MtPatientIn(CallPatient):
    """The patient without a médecin traitant: the coordination calls him, so his phone is needed (copied from the
    call when the request names one)."""


class MtRequestCreate(Input):
    territory_code: Code
    source: Source = Field(description="regulation (regulator, operator; from a call with call_id), effector "
                           "(after an SNP visit), referrer, coordinator; self and import come their own ways")
    call_id: uuid.UUID | None = Field(default=None, description="regulation only: the call the patient came by; his "
                                      "identity is copied from it (what `patient` gives wins)")
    patient: MtPatientIn = Field(default_factory=MtPatientIn)
    publics: list[Declared] = Field(default_factory=list, max_length=3,
                                    description="declared: ald, disability, pregnancy (the age publics come from "
                                    "patient.birth_year)")
    note: Text | None = Field(default=None, min_length=1, max_length=1000,
                              description="what the coordination should know (sealed at rest)")


class MtImportResult(Schema):
    imported: int = Field(description="requests made (source import), all the file's rows")
    by_priority: dict[str, int] = Field(description="how many of them are high, medium, normal")


class PriorityIn(Input):
    priority: Priority
    reason: Text = Field(min_length=1, max_length=500, description="why the coordinator sets it (sealed at rest)")


class CloseIn(Input):
    reason: ClosedReason


class FoundIn(Input):
    first_visit_on: dt.date = Field(description="the first consultation, or the médecin-traitant declaration")


class ProposalCreate(Input):
    practitioner_id: uuid.UUID
    patient_agreed: Literal[True] = Field(description="the patient chose this doctor (told of the proposal, he "
                                          "agreed): required, and true")


class RefuseIn(Input):
    reason: RefusalReason = Field(description="no_capacity, publics, too_far, patient_known, other")


class Centroid(Schema):
    lat: float
    lon: float


class PatientView(Schema):
    family_name: str | None = None
    given_name: str | None = None
    initials: str | None = None
    birth_year: int | None = None
    age: int | None = None
    sex: str | None = None
    phone: str | None = None
    postcode: str | None = None
    address: str | None = None
    email: str | None = None
    postcode_centroid: Centroid | None = Field(default=None, description="the centroid of his postcode's communes "
                                               "(La Poste's, vendored), the point distances are measured from; null "
                                               "without a postcode (or once purged)")


class PriorityAdjustment(Schema):
    by: str
    at: dt.datetime
    reason: str | None


class ProposalRead(Schema):
    id: uuid.UUID
    request_id: uuid.UUID
    practitioner_id: uuid.UUID
    site_id: uuid.UUID | None
    distance_km: float | None
    state: ProposalState
    refusal_reason: RefusalReason | None
    patient_agreed: bool
    created_at: dt.datetime
    answered_at: dt.datetime | None


class RequestProposal(ProposalRead):
    """A proposal as a request's record lists it: the doctor's names and his site's, read with it."""

    family_name: str = Field(description="the doctor proposed")
    given_name: str
    site_name: str | None = Field(description="his offer's site the proposal was made at (nearest the patient)")


class MtCounts(Schema):
    """How many requests are in each state, within the reader's walls: numbers only, no patient."""

    waiting: int
    proposed: int
    accepted: int
    found: int
    closed: int


class MtRequestSummary(Schema):
    """A line of the waiting list: the patient's initials, age and postcode, never his name or phone."""

    id: uuid.UUID
    territory_code: str
    source: Source
    state: State
    closed_reason: ClosedReason | None
    publics: list[str] = Field(description="declared: ald, disability, pregnancy")
    matching_publics: list[str] = Field(description="the doctor's publics he counts in (ald, disability, "
                                        "children, elderly)")
    priority: Priority
    priority_computed: Priority
    priority_reasons: list[str]
    initials: str | None
    age: int | None
    postcode: str | None
    practitioner_id: uuid.UUID | None = Field(description="the doctor who accepted him")
    created_at: dt.datetime
    waiting_days: int


class AccessSlot(Schema):
    """An access consultation the coordinator may book for a patient (a free slot of kind access)."""

    id: uuid.UUID
    practitioner_id: uuid.UUID
    family_name: str
    given_name: str
    site_id: uuid.UUID
    site_name: str
    address: str
    postcode: str
    territory_code: str
    start: dt.datetime
    end: dt.datetime
    mode: str


class AccessBookingIn(Input):
    slot_id: uuid.UUID = Field(description="a free slot of kind access in the request's territory")


class MtRequestRead(MtRequestSummary):
    call_id: uuid.UUID | None
    created_by_role: str
    referrer_kind: str | None
    patient: PatientView
    note: str | None
    priority_adjustment: PriorityAdjustment | None
    accepted_at: dt.datetime | None
    first_visit_on: dt.date | None
    access_slot_id: uuid.UUID | None = Field(description="the access consultation booked for him (a slot of kind "
                                             "access)")
    access_booked_at: dt.datetime | None
    found_at: dt.datetime | None
    closed_at: dt.datetime | None
    purged_at: dt.datetime | None
    proposals: list[RequestProposal]


class Candidate(Schema):
    """A doctor who may take the patient: accepting, his publics fitting, capacity left this month."""

    practitioner_id: uuid.UUID
    family_name: str
    given_name: str
    publics: list[str]
    capacity_left: int
    site: SiteBrief = Field(description="his offer's site nearest the patient")
    distance_km: float | None = Field(description="from the centroid of the patient's postcode (null without one)")


class AnswerLink(Schema):
    """The doctor's answer link (GET shows the proposal, POST answers it): the coordinator sends it to him."""

    token: str
    path: str = Field(description="/mt/{token}")
    url: str = Field(description="the path on the service's public address (SNP_PUBLIC_URL)")
    expires_at: dt.datetime


class ProposalCreated(ProposalRead):
    answer_link: AnswerLink = Field(description="the link the doctor answers by (signed, expiring, single use; it "
                                    "names the proposal, nothing about the patient)")


class DoctorProposal(ProposalRead):
    """A proposal as the doctor reads it: the patient's initials, age, postcode and publics; his name and phone
    once he accepted him (GET /v1/mt-requests/{id})."""

    request: MtRequestSummary
