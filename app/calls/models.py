from __future__ import annotations

import datetime as dt
import uuid
from typing import get_args

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, SmallInteger, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.calls.schemas import (
    CallStatus,
    Channel,
    DecisionKind,
    GpReport,
    Intent,
    Notify,
    NotifyConsent,
    OtherReason,
    Priority,
)
from app.platform.columns import TZ, CreatedAt, UUIDPk
from app.platform.database import Base

# The values the API accepts (the schemas' Literals), which the database's CHECK constraints hold too.
CHANNELS: tuple[str, ...] = get_args(Channel)
INTENTS: tuple[str, ...] = get_args(Intent)
DECISION_KINDS: tuple[str, ...] = get_args(DecisionKind)
OTHER_REASONS: tuple[str, ...] = get_args(OtherReason)
PRIORITIES: tuple[str, ...] = get_args(Priority)
CALL_STATUSES: tuple[str, ...] = get_args(CallStatus)
NOTIFY: tuple[str, ...] = get_args(Notify)
NOTIFY_CONSENTS: tuple[str, ...] = get_args(NotifyConsent)
GP_REPORTS: tuple[str, ...] = get_args(GpReport)
# Who referred a call: a city professional (role referrer, channel professionnel), or ``self``, the patient himself
# through a signed link (channel autre).
REFERRER_KINDS = ("pharmacist", "nurse", "medical_secretary", "social_worker", "other_professional", "self")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Call(Base):
    """A call transferred to the ambulatory regulation (appel rebasculé), or an ED redirection."""

    __tablename__ = "calls"
    __table_args__ = (
        CheckConstraint(_in("channel", CHANNELS), name="channel"),
        CheckConstraint(_in("intent_without_sas", INTENTS), name="intent"),
        CheckConstraint(f"priority IS NULL OR {_in('priority', PRIORITIES)}", name="priority"),
        CheckConstraint(_in("status", CALL_STATUSES), name="status"),
        CheckConstraint("source IN ('live', 'import')", name="source"),
        CheckConstraint("patient_sex IS NULL OR patient_sex IN ('F', 'M', 'U')", name="patient_sex"),
        UniqueConstraint("territory_code", "external_id", name="uq_calls_territory_external_id"),
        Index("ix_calls_territory_received", "territory_code", "received_at"),
        Index("ix_calls_queue", "territory_code", "status", "due_at"),
        CheckConstraint(f"referrer_kind IS NULL OR {_in('referrer_kind', REFERRER_KINDS)}", name="referrer_kind"),
        CheckConstraint("referrer_kind IS NULL OR channel IN ('professionnel', 'autre')", name="referrer_channel"),
        Index("ix_calls_referrals", "territory_code", "received_at", postgresql_include=["referrer_kind"],
              postgresql_where=text("referrer_kind IS NOT NULL")),
        Index("ix_calls_referrer", "created_by", "received_at", postgresql_where=text("referrer_kind IS NOT NULL")),
        Index("ix_calls_reoriented", "territory_code", "received_at", postgresql_where=text("reorient_at IS NOT NULL")),
        # The open calls (a small part of the table), which the live stream reads (app/calls/live.py).
        Index("ix_calls_open", "territory_code", postgresql_where=text("status <> 'closed'")),
        Index("ix_calls_patient_name_hashes", "patient_name_hashes", postgresql_using="gin"),
        Index("ix_calls_patient_phone_hashes", "patient_phone_hashes", postgresql_using="gin"),
        Index("ix_calls_samu_case_id", "samu_case_id", postgresql_where=text("samu_case_id IS NOT NULL")),
        CheckConstraint(_in("notify", NOTIFY), name="notify"),
        CheckConstraint(f"notify_consent IS NULL OR {_in('notify_consent', NOTIFY_CONSENTS)}", name="notify_consent"),
        CheckConstraint(f"gp_report IS NULL OR {_in('gp_report', GP_REPORTS)}", name="gp_report"),
    )

    id: Mapped[UUIDPk]
    territory_code: Mapped[str] = mapped_column(ForeignKey("territories.code"))
    channel: Mapped[str] = mapped_column(String(16))
    referrer_kind: Mapped[str | None] = mapped_column(String(24))
    received_at: Mapped[dt.datetime] = mapped_column(TZ)
    priority: Mapped[str | None] = mapped_column(String(2))
    due_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    reason: Mapped[str | None] = mapped_column(Text)
    intent_without_sas: Mapped[str] = mapped_column(String(16), server_default="inconnu")
    status: Mapped[str] = mapped_column(String(16), server_default="waiting")
    assigned_to: Mapped[str | None] = mapped_column(String(200))
    # Who that is, as people read it: the registry's display name, the subject otherwise.
    assigned_name: Mapped[str | None] = mapped_column(String(200))
    # The SAMU's own file number for this patient (dossier de régulation), given by the 15 when it transfers.
    samu_case_id: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str | None] = mapped_column(String(200))
    first_callback_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    closed_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    source: Mapped[str] = mapped_column(String(8), server_default="live")
    external_id: Mapped[str | None] = mapped_column(String(200))
    # Patient data: only what the callback needs; emptied by `snp purge` after the retention period.
    # Sealed at rest (app/identity/crypto.py): names, phone, address and reason are AES-GCM sealed text.
    patient_family_name: Mapped[str | None] = mapped_column(Text)
    patient_given_name: Mapped[str | None] = mapped_column(Text)
    patient_birth_year: Mapped[int | None] = mapped_column(SmallInteger)
    patient_sex: Mapped[str | None] = mapped_column(String(1))
    patient_phone: Mapped[str | None] = mapped_column(Text)
    patient_postcode: Mapped[str | None] = mapped_column(String(5))
    patient_address: Mapped[str | None] = mapped_column(Text)
    # Where the patient is told of his appointment (sealed as the phone is), how, and who consented (issue 28).
    patient_email: Mapped[str | None] = mapped_column(Text)
    notify: Mapped[str] = mapped_column(String(8), server_default="none")
    notify_consent: Mapped[str | None] = mapped_column(String(8))
    # The patient's médecin traitant (issue 28 §2): his RPPS, names and MSSanté address as one sealed JSON text
    # (who treats the patient tells of his care); and whether the visit's report may go to him.
    general_practitioner: Mapped[str | None] = mapped_column(Text)
    gp_report: Mapped[str | None] = mapped_column(String(16))
    # Keyed hashes that find a call without opening it: the prefixes of its names, the endings of its phone.
    patient_name_hashes: Mapped[list[str] | None] = mapped_column(ARRAY(String(32)))
    patient_phone_hashes: Mapped[list[str] | None] = mapped_column(ARRAY(String(32)))
    purged_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    created_at: Mapped[CreatedAt]
    # The last time a booking this call depended on was cancelled (status to_reorient until re-oriented).
    reorient_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    reorient_by: Mapped[str | None] = mapped_column(String(200))
    reorient_by_role: Mapped[str | None] = mapped_column(String(16))
    reorient_reason: Mapped[str | None] = mapped_column(Text)
    reorient_booking_id: Mapped[uuid.UUID | None] = mapped_column()
    # Facts of the call's decisions for the report (bit masks, see app/stats/facts.py), written only by
    # PostgreSQL triggers on `decisions`, in the same transaction as the decisions themselves.
    decision_kinds: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    other_reasons: Mapped[int] = mapped_column(SmallInteger, server_default="0")


class CallbackAttempt(Base):
    """A regulator's callback attempt; the first answered or not feeds the callback delay."""

    __tablename__ = "call_callbacks"

    id: Mapped[UUIDPk]
    call_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(TZ)
    answered: Mapped[bool] = mapped_column(Boolean, server_default="true")
    by_sub: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[CreatedAt]


class Decision(Base):
    """What the regulator decided; a call may carry several."""

    __tablename__ = "decisions"
    __table_args__ = (
        CheckConstraint(_in("kind", DECISION_KINDS), name="kind"),
        CheckConstraint(f"other_reason IS NULL OR {_in('other_reason', OTHER_REASONS)}", name="other_reason"),
        CheckConstraint("(kind = 'other') = (other_reason IS NOT NULL)", name="other_needs_reason"),
        CheckConstraint("booking_id IS NULL OR kind = 'slot'", name="booking_only_for_slot"),
        # A booking is one orientation: at most one `slot` decision refers to it.
        Index("uq_decisions_booking_id", "booking_id", unique=True, postgresql_where=text("booking_id IS NOT NULL")),
        CheckConstraint("(revoked_at IS NULL) = (revoked_by IS NULL)", name="revoked_whole"),
    )

    id: Mapped[UUIDPk]
    call_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    other_reason: Mapped[str | None] = mapped_column(String(16))
    pharmacy_name: Mapped[str | None] = mapped_column(String(200))
    pharmacy_finess: Mapped[str | None] = mapped_column(String(9))
    # What was prescribed (a prescription decision), sealed as the reason is; emptied with the record.
    prescribed: Mapped[str | None] = mapped_column(Text)
    booking_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("bookings.id"))
    decided_at: Mapped[dt.datetime] = mapped_column(TZ)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[CreatedAt]
    # A decision that no longer holds (its booking was cancelled): kept, no longer counted (migration 0010).
    revoked_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    revoked_by: Mapped[str | None] = mapped_column(String(200))
    revoked_reason: Mapped[str | None] = mapped_column(Text)


class Observation(Base):
    """What a regulator noted during the regulation, signed and dated: the regulation's medical record.
    Append-only (a trigger holds it): a correction is a new observation naming the one it corrects. The
    text is sealed at rest like the call's reason, and emptied at the end of ``SNP_RECORD_RETENTION_DAYS``."""

    __tablename__ = "call_observations"
    __table_args__ = (Index("ix_call_observations_call_id_at", "call_id", "at"),)

    id: Mapped[UUIDPk]
    call_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    # The instant it was written (not its transaction's start: two in one transaction keep their order).
    at: Mapped[dt.datetime] = mapped_column(TZ, server_default=text("clock_timestamp()"))
    author: Mapped[str] = mapped_column(String(200))
    author_role: Mapped[str] = mapped_column(String(20))
    author_name: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str | None] = mapped_column(Text)
    corrects: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("call_observations.id"))
    purged_at: Mapped[dt.datetime | None] = mapped_column(TZ)
