from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StrictBool

from app.http.schemas import AwareDatetime, Input, Schema
from app.reference.identifiers import FINESS, RPPS, MssanteAddress, Phone, Postcode, mobile_e164
from app.territories.schemas import Code

Channel = Literal["15", "116117", "urgences", "professionnel", "autre"]
Intent = Literal["urgences", "medecin", "pharmacie", "rien", "inconnu"]
Priority = Literal["P1", "P2", "P3"]
NO_PRIORITY: Priority = "P3"  # a call without a priority is called back within this priority's delay
DecisionKind = Literal["advice", "slot", "prescription", "other"]
OtherReason = Literal["no_answer", "redirected_15", "redirected_ed", "other"]
CallStatus = Literal["waiting", "in_progress", "to_reorient", "closed"]
Sex = Literal["F", "M", "U"]
# How the patient wants to be told of his appointment (issue 28): by SMS, e-mail, both, or not at all; and who
# consented to it (the patient, or a parent for a minor).
Notify = Literal["sms", "email", "both", "none"]
NotifyConsent = Literal["patient", "parent"]
ADULT_AGE = 18
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # no call, callback or decision is dated before

# A decision's kind decides what it carries, in a decision the API takes (service.decide) as in an imported one:
# the reason of an `other` decision and only of it, a pharmacy and what was prescribed for a `prescription` only.
# (The booking of a `slot` decision is the API's alone: an imported slot decision names none.)
DecisionMisfit = Literal["other_needs_reason", "reason_only_for_other", "pharmacy_only_for_prescription",
                         "prescribed_only_for_prescription"]


def decision_misfit(
    kind: str, *, other_reason: bool, pharmacy: bool, prescribed: bool = False
) -> DecisionMisfit | None:
    """The first rule a decision of this kind breaks, given whether it has an other_reason, a pharmacy and
    what was prescribed."""
    if kind == "other" and not other_reason:
        return "other_needs_reason"
    if kind != "other" and other_reason:
        return "reason_only_for_other"
    if kind != "prescription" and pharmacy:
        return "pharmacy_only_for_prescription"
    if kind != "prescription" and prescribed:
        return "prescribed_only_for_prescription"
    return None


def no_nul(value: str) -> str:
    """PostgreSQL text holds neither NUL nor lone surrogates: refuse them here, not with a 500 later."""
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("is not valid Unicode text") from exc
    return value


Text = Annotated[str, AfterValidator(no_nul)]


def _birth_year(value: int) -> int:
    if value > dt.date.today().year:
        raise ValueError("a birth year cannot lie in the future")
    return value


BirthYear = Annotated[int, Field(ge=1900, le=2100), AfterValidator(_birth_year)]


class PatientIn(Input):
    """Only what the callback needs; emptied after the retention period."""

    family_name: Text | None = Field(default=None, min_length=1, max_length=100)
    given_name: Text | None = Field(default=None, min_length=1, max_length=100)
    birth_year: BirthYear | None = None
    sex: Sex | None = None
    phone: Phone | None = None
    postcode: Postcode | None = None
    address: Text | None = Field(default=None, min_length=1, max_length=300,
                                 description="where a home visit goes (given to the effector of a home visit only)")


class CallPatient(PatientIn):
    """The patient of a call the regulation enters: also where he is told of his appointment."""

    email: str | None = Field(default=None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                              examples=["patient@example.fr"],
                              description="where the appointment is sent when notify is email or both (sealed)")


# The SAMU's file number (dossier de régulation) as its software writes it: letters, digits, dots, dashes.
SAMU_CASE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$"
SamuCaseId = Annotated[str, Field(min_length=1, max_length=64, pattern=SAMU_CASE_PATTERN, examples=["DRFR15360000123"],
                                  description="the SAMU's file number of this patient (dossier de régulation), "
                                  "given by the 15 when it transfers the call")]


NOTIFY = ("how the patient wants to be told of an appointment booked for this call: sms (a French mobile only), "
          "email (patient.email), both, or none")
NOTIFY_CONSENT = ("who agreed to be told (the console asks 'Le patient accepte-t-il un SMS ?'): the patient, or a "
                  "parent for a minor; required unless notify is none")


def notify_misfit(notify: str, consent: str | None, *, phone: str | None, email: str | None,
                  birth_year: int | None, year: int) -> tuple[str, str] | None:
    """The first rule a call's way of telling the patient breaks, as (field, why), or None. SMS only to a French
    mobile; e-mail needs an address; either needs consent, a parent's for a minor."""
    if notify == "none":
        return None
    if consent is None:
        return "notify_consent", "the patient's consent (or a parent's for a minor) is needed to tell him"
    if consent == "patient" and birth_year is not None and year - birth_year < ADULT_AGE:
        return "notify_consent", "a minor is told with a parent's consent (notify_consent: parent)"
    if notify in ("sms", "both") and mobile_e164(phone) is None:
        return "patient.phone", ("SMS impossible: the patient's phone is not a French mobile (06, 07, or an overseas "
                                 "mobile range such as 0692)")
    if notify in ("email", "both") and not email:
        return "patient.email", "an e-mail needs the patient's e-mail address"
    return None


# The patient's médecin traitant (issue 28 §2): whether the visit's report may go to him, as the patient said when
# told of it.
GpReport = Literal["not_objected", "objected"]
GP_REPORT = ("the patient was told that the visit's report goes to his médecin traitant by secure messaging "
             "(MSSanté): not_objected (it is sent), objected (it is never sent); unset: not asked, nothing is sent")
GENERAL_PRACTITIONER = ("the patient's médecin traitant: his RPPS, looked up among the practitioners we know (his "
                        "names and MSSanté address come from there), or his names and MSSanté address typed. "
                        "Sealed at rest with the call, emptied by the identity purge; null clears it")


class GeneralPractitionerIn(Input):
    """The patient's médecin traitant, as the regulation records it."""

    rpps: RPPS | None = Field(default=None, description="his RPPS: a practitioner we know fills in the rest")
    family_name: str | None = Field(default=None, min_length=1, max_length=100)
    given_name: str | None = Field(default=None, min_length=1, max_length=100)
    mssante_address: MssanteAddress | None = Field(
        default=None, description="where the visit's report goes (under mssante.fr); needed unless the RPPS is a "
                                  "practitioner we know who has one")


class GeneralPractitionerRead(Schema):
    rpps: str | None = None
    family_name: str | None = None
    given_name: str | None = None
    mssante_address: str | None = None
    known: bool = Field(default=False, description="the RPPS is a practitioner we know")


def general_practitioner_misfit(gp: GeneralPractitionerIn, *, known: bool,
                                known_address: str | None) -> tuple[str, str] | None:
    """The first rule a médecin traitant breaks, as (field, why), or None: named by an RPPS or an address, and
    reachable — his MSSanté address typed, or the one of the practitioner his RPPS names."""
    if gp.rpps is None and gp.mssante_address is None:
        return "general_practitioner", "the médecin traitant needs his RPPS or his MSSanté address"
    if gp.mssante_address is None and known_address is None:
        why = "has no MSSanté address with us" if known else "is not a practitioner we know"
        return "general_practitioner.mssante_address", f"RPPS {gp.rpps} {why}: type his MSSanté address"
    return None


# A call entered this long after it was received is entered after the fact: no phone needed then.
LIVE_ENTRY_MINUTES = 15
OUT_OF_TERRITORY = ("the patient is outside the call's territory (the console asks 'Patient hors territoire ?'): "
                    "without it, a postcode the territory does not serve is refused")


class CallCreate(Input):
    """A call entered live needs a way to reach the patient (`patient.phone`) unless it is entered after the
    fact (`received_at` more than 15 minutes ago); its postcode must exist (La Poste) and be one the territory
    serves unless `out_of_territory` says otherwise."""

    territory_code: Code
    channel: Channel
    samu_case_id: SamuCaseId | None = None
    out_of_territory: StrictBool = Field(default=False, description=OUT_OF_TERRITORY)
    received_at: AwareDatetime | None = Field(default=None, description="default now; never in the future")
    patient: CallPatient = Field(default_factory=CallPatient)
    reason: Text | None = Field(default=None, max_length=2000)
    priority: Priority | None = Field(default=None, description="callback target; none means P3's delay")
    intent_without_sas: Intent = "inconnu"
    notify: Notify = Field(default="none", description=NOTIFY)
    notify_consent: NotifyConsent | None = Field(default=None, description=NOTIFY_CONSENT)
    general_practitioner: GeneralPractitionerIn | None = Field(default=None, description=GENERAL_PRACTITIONER)
    gp_report: GpReport | None = Field(default=None, description=GP_REPORT)


class ReferredPatient(CallPatient):
    """The patient a professional refers: the regulation calls him back, so his phone is required."""

    phone: Phone


class ReferralCreate(Input):
    """A city professional refers the patient in front of him to the SAS: the regulation calls back."""

    territory_code: Code = Field(description="The territory whose SAS takes the call (one of the referrer's)")
    patient: ReferredPatient
    reason: Text = Field(min_length=1, max_length=2000, description="Why the patient needs a doctor today")
    priority: Priority | None = Field(default=None, description="callback target; none means P3's delay")
    notify: Notify = Field(default="none", description=NOTIFY + " (kept with the call, for the appointment the "
                           "regulation books)")
    notify_consent: NotifyConsent | None = Field(default=None, description=NOTIFY_CONSENT)


class ReferralLinkCreate(Input):
    territory_code: Code
    days: int = Field(default=90, ge=1, le=365, description="how long the link works")


class ReferralLinkRead(Schema):
    token: str
    path: str = Field(description="What the QR code points at (prefix it with the service's address): the "
                      "patient's page posts to it")
    territory_code: str
    expires_at: dt.datetime


class SelfReferralCreate(Input):
    """A patient asks the regulation to call him back: nothing more is asked, nothing is shown."""

    phone: Phone
    reason: Text | None = Field(default=None, min_length=1, max_length=500)
    postcode: Postcode | None = None


class SelfReferralReceived(Schema):
    status: Literal["received"] = "received"
    territory_code: str
    callback_within_minutes: int | None = Field(description="the territory's callback target for such a call")


class AssignIn(Input):
    assigned_to: Text | None = Field(
        default=None, min_length=1, max_length=200, description="the regulator's user id; default yourself"
    )
    take_over: StrictBool = Field(default=False, description="take the call from whoever has it; without it, "
                                  "a call someone else has is refused (409 CallHeld naming the holder)")


class CallbackIn(Input):
    at: AwareDatetime | None = Field(default=None, description="default now; not before the call was received")
    answered: StrictBool = True


class PharmacyIn(Input):
    name: Text = Field(min_length=1, max_length=200)
    finess: FINESS | None = None


class DecisionCreate(Input):
    kind: DecisionKind
    other_reason: OtherReason | None = Field(default=None, description="required for `other`, only for it")
    pharmacy: PharmacyIn | None = Field(default=None, description="only for `prescription`")
    prescribed: Text | None = Field(default=None, min_length=1, max_length=2000,
                                    description="what was prescribed (only for `prescription`; sealed at rest)")
    booking_id: uuid.UUID | None = Field(default=None, description="required for `slot`: a booking of this call")
    decided_at: AwareDatetime | None = Field(default=None, description="default now")


class FindIn(Input):
    q: Text = Field(min_length=2, max_length=100, description="the start of the patient's family or given name, "
                    "or digits of the phone (at least 4)")


class RevokeIn(Input):
    reason: Text | None = Field(default=None, min_length=1, max_length=500, description="why (a mistaken click…)")


class PurgeIn(Input):
    days: int | None = Field(default=None, ge=1, le=36500, description="default the retention setting (90)")


class PatientRead(Schema):
    family_name: str | None
    given_name: str | None
    birth_year: int | None
    sex: str | None
    phone: str | None
    postcode: str | None
    address: str | None = None
    email: str | None = None


class Reorientation(Schema):
    """The last cancellation of a booking this call depended on (the call went back to the queue)."""

    at: dt.datetime
    by: str | None = Field(description="who cancelled (subject)")
    by_role: str | None = Field(description="their role: effector, regulator, operator, urgences, admin")
    reason: str | None
    booking_id: uuid.UUID | None


TRIAGE_EXCERPT = 60


class Triage(Schema):
    """What a regulator reads of a queue line to choose the next call: no name, no phone."""

    age: int | None = Field(description="the patient's age this year, from the birth year")
    sex: str | None = Field(description="F, M or U")
    reason_excerpt: str | None = Field(description=f"the reason's first words ({TRIAGE_EXCERPT} characters at "
                                                   "most, cut at a word)")


class CallSummary(Schema):
    """A call without the patient's identity (queue lines, state changes)."""

    id: uuid.UUID
    territory_code: str
    channel: str
    referrer_kind: str | None = Field(default=None, description="who referred it: pharmacist, nurse, "
                                      "medical_secretary, social_worker, other_professional, self (a self-referral)")
    received_at: dt.datetime
    priority: str | None
    due_at: dt.datetime | None
    late: bool = Field(description="not called back yet, not closed, and past its due time")
    minutes_late: int
    status: str = Field(description="waiting, in_progress, to_reorient (a booking it depended on was "
                        "cancelled: orient the patient again), closed")
    assigned_to: str | None
    assigned_name: str | None = Field(default=None, description="who has it, by name: the users registry's "
                                      "display name, the subject otherwise")
    samu_case_id: str | None = Field(default=None, description="the SAMU's file number (dossier de régulation)")
    intent_without_sas: str
    first_callback_at: dt.datetime | None
    closed_at: dt.datetime | None
    source: str
    created_at: dt.datetime
    reorientation: Reorientation | None = Field(
        default=None, description="set once a booking of the call was cancelled and none remained active")
    triage: Triage | None = Field(default=None, description="age, sex and the reason's first words, when the "
                                  "list was asked with triage=true (that read is audited)")


class CallRead(CallSummary):
    reason: str | None
    created_by: str | None
    external_id: str | None
    purged_at: dt.datetime | None
    patient: PatientRead
    notify: str = Field(default="none", description=NOTIFY)
    notify_consent: str | None = Field(default=None, description=NOTIFY_CONSENT)
    general_practitioner: GeneralPractitionerRead | None = Field(default=None, description=GENERAL_PRACTITIONER)
    gp_report: str | None = Field(default=None, description=GP_REPORT)


class DecisionRead(Schema):
    id: uuid.UUID
    call_id: uuid.UUID
    kind: str
    other_reason: str | None
    pharmacy_name: str | None
    pharmacy_finess: str | None
    prescribed: str | None = Field(default=None, description="what was prescribed (a prescription)")
    booking_id: uuid.UUID | None
    decided_at: dt.datetime
    created_by: str | None
    revoked_at: dt.datetime | None = Field(default=None, description="no longer holds (its booking was cancelled)")
    revoked_by: str | None = None
    revoked_reason: str | None = None


class CallbackRead(Schema):
    id: uuid.UUID
    call_id: uuid.UUID
    at: dt.datetime
    answered: bool
    by_sub: str | None


class BookingBrief(Schema):
    id: uuid.UUID
    slot_id: uuid.UUID
    status: str
    cancelled_at: dt.datetime | None = None
    cancel_reason: str | None = None
    outcome: str | None
    created_at: dt.datetime


class MessageRead(Schema):
    """A message the patient was sent (or is to be) about an appointment of the call: never its content."""

    id: uuid.UUID = Field(description="the message id (the e-mail's Message-ID, the SMS gateway's tag)")
    booking_id: uuid.UUID
    kind: str = Field(description="confirmation, reminder (before the appointment), moved (a change of slot: the "
                      "new time) or cancellation")
    channel: str = Field(description="sms or email")
    state: str = Field(description="pending (not delivered yet), sent, failed (given up: call the patient), "
                       "withdrawn (not sent: cancelled before, consent or address withdrawn, no reminder wanted)")
    attempts: int
    created_at: dt.datetime
    due_at: dt.datetime | None = Field(default=None, description="pending: when it is to be sent (a reminder: its "
                                       "time; a retry: after its backoff)")
    sent_at: dt.datetime | None
    failed_at: dt.datetime | None
    last_error: str | None = Field(description="why the last attempt failed (the provider's answer)")


class CallDetail(CallRead):
    decisions: list[DecisionRead]
    callbacks: list[CallbackRead]
    bookings: list[BookingBrief]
    messages: list[MessageRead] = Field(default_factory=list, description="what the patient was sent about "
                                        "his appointments, and whether it was delivered")


class PurgeResult(Schema):
    purged: int = Field(description="calls whose patient identity was emptied now")
    days: int
    cutoff: dt.datetime
    observations_purged: int = Field(default=0, description="observations whose text was emptied now, written "
                                     "more than SNP_RECORD_RETENTION_DAYS ago (the regulation's record)")


class ImportResult(Schema):
    imported: int
    already_present: int = Field(description="rows whose territory_code + external_id were already there")
    decisions: int


class CallPatch(Input):
    """What may be corrected on a call after its entry: only the fields sent change (null clears one)."""

    patient: CallPatient | None = Field(default=None, description="the patient's fields sent change, the others stay")
    reason: Text | None = Field(default=None, min_length=1, max_length=2000)
    priority: Priority | None = Field(default=None, description="a new priority moves the due time")
    samu_case_id: SamuCaseId | None = None
    out_of_territory: StrictBool = Field(default=False, description=OUT_OF_TERRITORY)
    notify: Notify | None = Field(default=None, description=NOTIFY + " (none withdraws: pending messages are "
                                  "not sent)")
    notify_consent: NotifyConsent | None = None
    general_practitioner: GeneralPractitionerIn | None = Field(default=None, description=GENERAL_PRACTITIONER)
    gp_report: GpReport | None = Field(default=None, description=GP_REPORT + " (null: not asked; a report not "
                                       "sent yet is not sent)")


class ObservationIn(Input):
    text: Text = Field(min_length=1, max_length=4000, description="what the regulator notes (sealed at rest)")
    corrects: uuid.UUID | None = Field(default=None, description="the observation of this call this one corrects "
                                       "(both stay visible)")


class ObservationRead(Schema):
    id: uuid.UUID
    call_id: uuid.UUID
    at: dt.datetime
    author: str = Field(description="the subject of who wrote it")
    author_role: str
    author_name: str | None = Field(description="the registry's display name of who wrote it, when known")
    text: str | None = Field(description="null once the record's retention (SNP_RECORD_RETENTION_DAYS) has passed")
    corrects: uuid.UUID | None
    corrected_by: list[uuid.UUID] = Field(default_factory=list, description="the observations that correct this one")


TimelineKind = Literal["received", "assigned", "taken_over", "callback", "observation", "decision",
                       "decision_revoked", "appointment", "appointment_cancelled", "reoriented", "corrected",
                       "closed"]


class TimelineEntry(Schema):
    """One act of the regulation of a call, in the call's history."""

    at: dt.datetime
    kind: TimelineKind
    by: str | None = Field(description="who did it (subject); null for the system or an import")
    by_role: str | None = None
    by_name: str | None = Field(default=None, description="the users registry's display name of who did it")
    struck: bool = Field(default=False, description="no longer holds: a revoked decision, a corrected "
                                                    "observation, a cancelled appointment")
    detail: dict[str, Any] = Field(default_factory=dict, description=(
        "received: channel, source; assigned: to, to_name; taken_over: from, to; callback: answered; "
        "observation: id, text, corrects; decision: id, kind, other_reason, pharmacy_name, prescribed; "
        "decision_revoked: decision_id, reason; appointment: booking_id, start, mode, over_capacity, "
        "practitioner, site, outcome; appointment_cancelled: booking_id, reason; reoriented: reason; "
        "corrected: fields (their names; the values are in the audit log, sealed)"))
