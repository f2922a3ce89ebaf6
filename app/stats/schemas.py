"""The monthly report as sent: counts, shares of calls, estimates that say how they were made."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from app.http.schemas import Schema

AvoidedEdMethod = Literal["declared_intent", "coefficients"]
ReportFormat = Literal["json", "csv"]


class DecisionCount(Schema):
    count: int = Field(description="Calls carrying at least one decision of this kind")
    share: float = Field(description="count / calls (0 when there are no calls)")


class OtherReasons(Schema):
    no_answer: int = 0
    redirected_15: int = 0
    redirected_ed: int = 0
    other: int = 0


class OtherDecisionCount(DecisionCount):
    by_reason: OtherReasons = Field(description="Calls carrying an `other` decision with this reason")


class Decisions(Schema):
    advice: DecisionCount
    slot: DecisionCount
    prescription: DecisionCount
    other: OtherDecisionCount


class AvoidedEdVisits(Schema):
    count: int = Field(description="Estimated emergency-department visits avoided")
    method: AvoidedEdMethod
    parameters: dict[str, Any] = Field(description="What the estimator used, so the figure can be checked")


class SlotFigures(Schema):
    published: int = Field(description="Slots not withdrawn starting in the month (local time)")
    published_hours: float
    booked: int = Field(description="Published slots holding an active booking")
    fill_rate: float = Field(description="booked / published (0 when nothing was published)")
    effectors_active: int = Field(default=0, description="Distinct effectors with a published slot in the month")
    over_capacity: int = Field(
        default=0, description="Over-capacity appointments (rendez-vous en surnuméraire) starting in the month and "
        "holding an active booking: orientations outside the published slots, counted in none of the above")


class BookingFigures(Schema):
    """Outcomes of the active bookings of the month's slots and over-capacity appointments."""

    fulfilled: int
    noshow: int
    without_outcome: int = Field(description="Active bookings the effector has not reported on yet")
    honoured_rate: float = Field(description="fulfilled / (fulfilled + noshow), 0 when no outcome")


class CallbackDelay(Schema):
    called_back: int = Field(description="Calls with a first callback (the delays below are over these)")
    median_minutes: float | None
    p90_minutes: float | None
    share_within_60_minutes: float
    share_within_priority_target: float = Field(
        description="Share called back within the target of their priority (P3's when none)"
    )


class ChannelCounts(Schema):
    model_config = {"populate_by_name": True}

    samu_15: int = Field(alias="15", serialization_alias="15")
    nir_116117: int = Field(alias="116117", serialization_alias="116117")
    urgences: int
    professionnel: int
    autre: int


class ReferrerCounts(Schema):
    pharmacist: int = 0
    nurse: int = 0
    medical_secretary: int = 0
    social_worker: int = 0
    other_professional: int = 0
    self: int = Field(default=0, description="self-referrals by a signed link (QR code)")


class Coverage(Schema):
    postcodes: int = Field(description="Postcodes the territory serves (with known coordinates)")
    within_30_km: int = Field(description="Of which those whose communes' centroid lies within 30 km of a site "
                              "holding a published slot in the month")
    share: float = Field(description="within_30_km / postcodes (0 when there are none)")


class NoticeChannels(Schema):
    sms: int = 0
    email: int = 0


class OutcomesOfReminded(Schema):
    bookings: int = Field(default=0, description="Active bookings made at least SNP_REMINDER_BEFORE ahead, with an "
                          "outcome posted")
    noshow: int = 0
    noshow_rate: float = Field(default=0.0, description="noshow / bookings (0 when none)")


class NoticeFigures(Schema):
    """What the patients were told of the bookings of the month's slots (docs/notices.md)."""

    bookings_notified: int = Field(default=0, description="Bookings whose confirmation (or change of slot) reached "
                                   "the patient's provider, on any channel")
    bookings_notified_by_channel: NoticeChannels = Field(default_factory=NoticeChannels)
    reminders_sent: int = Field(default=0, description="Reminder messages sent (an SMS and an e-mail count two)")
    cancelled_through_link: int = Field(default=0, description="Bookings the patient cancelled with his link")
    with_reminder: OutcomesOfReminded = Field(default_factory=OutcomesOfReminded, description=(
        "Of the bookings made at least the reminder's delay ahead and with an outcome, those with a reminder sent"))
    without_reminder: OutcomesOfReminded = Field(default_factory=OutcomesOfReminded, description=(
        "The same, without a reminder sent. The two no-show rates are an observed difference, not the reminder's "
        "effect: who consents to messages, and when they book, differ between the two groups"))


class MtSources(Schema):
    """Requests received, by who entered them."""

    model_config = {"populate_by_name": True}

    regulation: int = 0
    effector: int = 0
    referrer: int = 0
    self: int = Field(default=0, description="the patient himself, by the public page")
    coordinator: int = 0
    import_: int = Field(default=0, alias="import", serialization_alias="import")


class MtClosedReasons(Schema):
    found_elsewhere: int = 0
    unreachable: int = 0
    moved: int = 0
    deceased: int = 0


class MtRefusalReasons(Schema):
    no_capacity: int = 0
    publics: int = 0
    too_far: int = 0
    already_known: int = Field(default=0, description="the refusal reason patient_known (the report names no "
                               "patient field)")
    other: int = 0


class MtFigures(Schema):
    """Patients without a médecin traitant (docs/mt.md), by the local month of each event."""

    requests_by_source: MtSources = Field(default_factory=MtSources)
    accepted: int = Field(default=0, description="Requests a doctor accepted in the month (his capacity used)")
    access_consultations: int = Field(default=0, description="Access consultations booked for requests, by the "
                                      "month of their slot")
    found_share: float = Field(default=0.0, description="mt_found / (mt_found + closed): of the requests that ended "
                               "in the month, the share that found a médecin traitant (0 when none ended)")
    closed: int = Field(default=0, description="Requests closed in the month without a médecin traitant found here")
    closed_by_reason: MtClosedReasons = Field(default_factory=MtClosedReasons)
    median_waiting_days: float | None = Field(default=None, description=(
        "Median age in days of the requests waiting at the end of the month (now, for a month not ended)"))
    refusals_by_reason: MtRefusalReasons = Field(default_factory=MtRefusalReasons, description=(
        "Proposals doctors refused in the month, by reason"))
    doctors_accepting_now: int = Field(default=0, description=(
        "Doctors with a site in the territory who take new patients today (whatever the months asked)"))
    places_per_month_now: int = Field(default=0, description="New patients a month those doctors offer together")


class PeriodFigures(Schema):
    calls: int = Field(description="Calls transferred to the ambulatory regulation")
    calls_by_channel: ChannelCounts
    calls_reoriented: int = Field(default=0, description="Calls a cancelled booking sent back to the queue, at "
                                  "least once (re-orientations)")
    coverage: Coverage | None = Field(default=None, description=(
        "Indicator of means: the territory's postcodes within 30 km of a site with a slot; null for the nation, "
        "and for a CPTS whose postcodes no administrator has set"))
    calls_by_referrer: ReferrerCounts = Field(
        default_factory=ReferrerCounts, description="Referred calls (channel professionnel, and self-referrals) "
        "by the kind of who referred them")
    decisions: Decisions
    calls_with_several_decisions: int = Field(
        description="Calls carrying decisions of two or more distinct kinds"
    )
    calls_without_decision: int
    monthly_average_calls: float = Field(description="calls / months of the period")
    avoided_ed_visits: AvoidedEdVisits
    slots: SlotFigures
    bookings: BookingFigures
    callback_delay: CallbackDelay
    mt_requests: int = Field(default=0, description="Requests of patients without a médecin traitant received")
    mt_found: int = Field(default=0, description="Requests whose médecin traitant was found (the IGAS indicator: "
                          "\"nombre de médecins traitants trouvés\")")
    mt_waiting: int = Field(default=0, description="Requests still waiting at the end of the month or period (now, "
                            "for one not ended): received, neither found nor closed")
    mt_median_days_to_find: float | None = Field(default=None, description=(
        "Median days from reception to finding, over the requests found"))
    mt: MtFigures = Field(default_factory=MtFigures)
    notices: NoticeFigures = Field(default_factory=NoticeFigures)


class MonthFigures(PeriodFigures):
    month: str = Field(description="YYYY-MM, in the territory's local time")


class MonthlyReport(Schema):
    territory: str
    territory_name: str
    timezone: str
    scope: list[str] = Field(description="Territory codes counted (a département includes its CPTS)")
    from_: str = Field(alias="from", serialization_alias="from")
    to: str
    months: list[MonthFigures]
    total: PeriodFigures

    model_config = {"populate_by_name": True, "from_attributes": True}
