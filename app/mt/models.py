"""The tables of the MT queue: a doctor's offer to take new patients, his monthly capacity taken, the waiting
list of patients without a médecin traitant (identity sealed at rest, as a call's) and the proposals."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.columns import TZ, CreatedAt, UUIDPk
from app.platform.database import Base


class MtOffer(Base):
    """A doctor takes new patients as their médecin traitant: how many a month, which publics, at which of his
    own sites, until when; and whether he appears on the CPTS's public list."""

    __tablename__ = "mt_offers"
    __table_args__ = (
        CheckConstraint("per_month >= 0 AND per_month <= 100", name="per_month"),
        CheckConstraint("NOT accepting OR per_month >= 1", name="accepting_capacity"),
        CheckConstraint("publics <@ ARRAY['ald', 'children', 'elderly', 'disability', 'any']::varchar[]",
                        name="publics"),
    )

    practitioner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("practitioners.id", ondelete="CASCADE"),
                                                       primary_key=True)
    accepting: Mapped[bool] = mapped_column(Boolean)
    per_month: Mapped[int] = mapped_column(SmallInteger)
    publics: Mapped[list[str]] = mapped_column(ARRAY(String(12)))
    site_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    until: Mapped[dt.date | None] = mapped_column(Date)
    public_listing: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    updated_at: Mapped[CreatedAt]


class MtCapacity(Base):
    """How many new patients a doctor accepted in a month (the month of the request's territory): an
    acceptance adds one in its own transaction, never past the offer's ``per_month``."""

    __tablename__ = "mt_capacity"
    __table_args__ = (CheckConstraint("taken >= 0", name="taken"),)

    practitioner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("practitioners.id", ondelete="CASCADE"),
                                                       primary_key=True)
    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    taken: Mapped[int] = mapped_column(Integer)


class MtRequest(Base):
    """A patient without a médecin traitant, waiting for one. His identity columns are sealed at rest
    (app/identity) and emptied ``SNP_MT_RETENTION_DAYS`` after the request is found or closed, never while
    it waits."""

    __tablename__ = "mt_requests"
    __table_args__ = (
        CheckConstraint("source IN ('regulation', 'effector', 'referrer', 'self', 'coordinator', 'import')",
                        name="source"),
        CheckConstraint("state IN ('waiting', 'proposed', 'accepted', 'found', 'closed')", name="state"),
        CheckConstraint("closed_reason IN ('found_elsewhere', 'unreachable', 'moved', 'deceased')",
                        name="closed_reason"),
        CheckConstraint("(state = 'closed') = (closed_reason IS NOT NULL)", name="closed_with_reason"),
        CheckConstraint("priority IN ('high', 'medium', 'normal') AND priority_computed IN ('high', 'medium', "
                        "'normal')", name="priority"),
        CheckConstraint("state NOT IN ('accepted', 'found') OR practitioner_id IS NOT NULL", name="placed"),
        CheckConstraint("state <> 'found' OR first_visit_on IS NOT NULL", name="found_visit"),
        Index("ix_mt_requests_queue", "territory_code", "state", "created_at"),
        Index("ix_mt_requests_created_by", "created_by"),
        Index("uq_mt_requests_access_slot", "access_slot_id", unique=True,
              postgresql_where=text("access_slot_id IS NOT NULL")),
        Index("ix_mt_requests_to_purge", "ended_at",
              postgresql_where=text("purged_at IS NULL AND ended_at IS NOT NULL")),
    )

    id: Mapped[UUIDPk]
    territory_code: Mapped[str] = mapped_column(ForeignKey("territories.code"))
    source: Mapped[str] = mapped_column(String(12))
    state: Mapped[str] = mapped_column(String(10), server_default="waiting")
    closed_reason: Mapped[str | None] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(200))
    created_by_role: Mapped[str] = mapped_column(String(20))
    referrer_kind: Mapped[str | None] = mapped_column(String(30))
    call_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    # Sealed (app/identity/crypto.py), the column's name the seal's associated data.
    patient_family_name: Mapped[str | None] = mapped_column(Text)
    patient_given_name: Mapped[str | None] = mapped_column(Text)
    patient_phone: Mapped[str | None] = mapped_column(Text)
    patient_address: Mapped[str | None] = mapped_column(Text)
    patient_email: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    patient_birth_year: Mapped[int | None] = mapped_column(SmallInteger)
    patient_sex: Mapped[str | None] = mapped_column(String(1))
    patient_postcode: Mapped[str | None] = mapped_column(String(5))
    # What is declared of his situation (ald, disability, pregnancy); the age publics come from the birth year.
    publics: Mapped[list[str]] = mapped_column(ARRAY(String(12)), server_default=text("'{}'"))
    priority: Mapped[str] = mapped_column(String(8))
    priority_computed: Mapped[str] = mapped_column(String(8))
    priority_reasons: Mapped[list[str]] = mapped_column(ARRAY(String(16)), server_default=text("'{}'"))
    priority_adjusted_by: Mapped[str | None] = mapped_column(String(200))
    priority_adjusted_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    priority_adjusted_reason: Mapped[str | None] = mapped_column(Text)  # sealed
    practitioner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("practitioners.id"))
    accepted_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    first_visit_on: Mapped[dt.date | None] = mapped_column(Date)
    # The access consultation the coordinator booked for him (a slot of kind access), before the MT is found.
    access_slot_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("slots.id"))
    access_booked_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    access_booked_by: Mapped[str | None] = mapped_column(String(200))
    found_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    closed_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    # When the request was found or closed: its retention runs from then.
    ended_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    purged_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    created_at: Mapped[CreatedAt]


class MtProposal(Base):
    """A doctor proposed to a patient (who agreed to it): the doctor accepts or refuses. Never two accepted
    proposals of one request (a unique index), never two pending ones to one doctor."""

    __tablename__ = "mt_proposals"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'accepted', 'refused', 'withdrawn')", name="state"),
        CheckConstraint("refusal_reason IN ('no_capacity', 'publics', 'too_far', 'patient_known', 'other')",
                        name="refusal_reason"),
        CheckConstraint("(state = 'refused') = (refusal_reason IS NOT NULL)", name="refused_with_reason"),
        CheckConstraint("patient_agreed", name="patient_agreed"),
        Index("uq_mt_proposals_one_accepted", "request_id", unique=True,
              postgresql_where=text("state = 'accepted'")),
        Index("uq_mt_proposals_one_pending", "request_id", "practitioner_id", unique=True,
              postgresql_where=text("state = 'pending'")),
        Index("ix_mt_proposals_practitioner", "practitioner_id", "state"),
    )

    id: Mapped[UUIDPk]
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("mt_requests.id", ondelete="CASCADE"), index=True)
    practitioner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("practitioners.id", ondelete="CASCADE"))
    site_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sites.id"))
    distance_km: Mapped[float | None] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(10), server_default="pending")
    refusal_reason: Mapped[str | None] = mapped_column(String(16))
    patient_agreed: Mapped[bool] = mapped_column(Boolean)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[CreatedAt]
    answered_at: Mapped[dt.datetime | None] = mapped_column(TZ)
