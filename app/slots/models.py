from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Interval,
    SmallInteger,
    String,
    Time,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.columns import TZ, CreatedAt, UUIDPk
from app.platform.database import Base


class AvailabilityRule(Base):
    """A recurring availability ("Tuesdays and Thursdays 18:00-20:00, 20-minute slots"), in local time."""

    __tablename__ = "availability_rules"
    __table_args__ = (
        CheckConstraint("end_time > start_time", name="times"),
        CheckConstraint("slot_minutes BETWEEN 5 AND 720", name="slot_minutes"),
        CheckConstraint("mode IN ('in_person', 'home_visit', 'teleconsultation')", name="mode"),
        CheckConstraint("bookable_by BETWEEN 1 AND 15", name="bookable_by"),
        CheckConstraint("release_before BETWEEN interval '0' AND interval '30 days'", name="release_before"),
    )

    id: Mapped[UUIDPk]
    practitioner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("practitioners.id"), index=True)
    site_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sites.id"))
    mode: Mapped[str] = mapped_column(String(20))
    audience: Mapped[str] = mapped_column(String(16), server_default=text("'all'"))
    bookable_by: Mapped[int] = mapped_column(SmallInteger, server_default=text("15"))
    release_before: Mapped[dt.timedelta | None] = mapped_column(Interval)
    weekdays: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger))  # ISO: 1 = Monday ... 7 = Sunday
    start_time: Mapped[dt.time] = mapped_column(Time)
    end_time: Mapped[dt.time] = mapped_column(Time)
    slot_minutes: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    # Bumped on every edit: the slots of a revision carry it in their source_key, so a regenerated
    # occurrence never collides with the withdrawn one it replaces.
    revision: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[CreatedAt]
    ended_at: Mapped[dt.datetime | None] = mapped_column(TZ)


class Slot(Base):
    """An SNP slot a doctor opens for SAS patients.

    ``status`` is free, booked or withdrawn; a hold is ``held_by_call_id`` + ``held_until`` on a
    free slot and lapses by itself when ``held_until`` passes (no sweeper needed).
    """

    __tablename__ = "slots"
    __table_args__ = (
        CheckConstraint("end_at > start_at", name="end_after_start"),
        CheckConstraint(
            "end_at - start_at BETWEEN interval '5 minutes' AND interval '12 hours'", name="duration"
        ),
        CheckConstraint("mode IN ('in_person', 'home_visit', 'teleconsultation')", name="mode"),
        CheckConstraint("audience IN ('all', 'children', 'ehpad')", name="audience"),
        CheckConstraint("kind IN ('snp', 'access')", name="kind"),
        CheckConstraint("status IN ('free', 'booked', 'withdrawn')", name="status"),
        CheckConstraint("source IN ('api', 'bulk', 'rule', 'ics', 'fhir')", name="source"),
        CheckConstraint("NOT over_capacity OR status <> 'free'", name="over_capacity_never_free"),
        # Who may book (app/slots/bookers.py) and from when anyone may.
        CheckConstraint("bookable_by BETWEEN 1 AND 15", name="bookable_by"),
        CheckConstraint("release_before BETWEEN interval '0' AND interval '30 days'", name="release_before"),
        # Two live slots of one practitioner never overlap; withdrawn slots do not count.
        ExcludeConstraint(
            ("practitioner_id", "="),
            (text("tstzrange(start_at, end_at, '[)')"), "&&"),
            where=text("status <> 'withdrawn'"),
            using="gist",
            name="ex_slots_practitioner_overlap",
        ),
        # Partial: the slots published without a key (most of them) cost this index nothing.
        Index("uq_slots_practitioner_source_key", "practitioner_id", "source_key", unique=True,
              postgresql_where=text("source_key IS NOT NULL")),
        # One check for both: the site exists and the slot's territory is the site's.
        ForeignKeyConstraint(["site_id", "territory_code"], ["sites.id", "sites.territory_code"]),
        Index("ix_slots_rule_id", "rule_id", postgresql_where=text("rule_id IS NOT NULL")),
        Index(
            "ix_slots_free_territory_start",
            "territory_code",
            "start_at",
            postgresql_where=text("status = 'free'"),
        ),
        Index("ix_slots_practitioner_start", "practitioner_id", "start_at"),
        # The published slots by start, with their territory: /metrics counts them in five 24-hour windows
        # at each scrape (app/slots/metrics.py) by an index-only scan.
        Index("ix_slots_published_start", "start_at", postgresql_include=["territory_code"],
              postgresql_where=text("status <> 'withdrawn' AND NOT over_capacity")),
    )

    id: Mapped[UUIDPk]
    practitioner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("practitioners.id"))
    site_id: Mapped[uuid.UUID] = mapped_column()
    territory_code: Mapped[str] = mapped_column(String(40))
    start_at: Mapped[dt.datetime] = mapped_column(TZ)
    end_at: Mapped[dt.datetime] = mapped_column(TZ)
    mode: Mapped[str] = mapped_column(String(20))
    audience: Mapped[str] = mapped_column(String(16), server_default=text("'all'"))
    # snp: an unplanned-care slot for the SAS; access: an access consultation (a long visit for a patient without a
    # médecin traitant, docs/mt.md), booked by the CPTS's coordinator for an MT request, never an SNP slot.
    kind: Mapped[str] = mapped_column(String(8), server_default=text("'snp'"))
    bookable_by: Mapped[int] = mapped_column(SmallInteger, server_default=text("15"))
    release_before: Mapped[dt.timedelta | None] = mapped_column(Interval)
    status: Mapped[str] = mapped_column(String(16), server_default=text("'free'"))
    held_by_call_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    held_until: Mapped[dt.datetime | None] = mapped_column(TZ)
    source: Mapped[str] = mapped_column(String(8), server_default=text("'api'"))
    # Stable identity of an imported/generated slot (ICS UID + start, rule id + start): re-import is a no-op.
    source_key: Mapped[str | None] = mapped_column(String(500))
    rule_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("availability_rules.id"))
    # An over-capacity appointment (surnuméraire) booked by the regulation, not a published slot.
    over_capacity: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[CreatedAt]
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(TZ)


class AgendaSource(Base):
    """A practitioner's agenda editor, pulled on a schedule (app/fhir/agenda.py): its FHIR base, the site his
    synced slots are held at, the bearer token it wants, how often, and how the last run went."""

    __tablename__ = "agenda_sources"
    __table_args__ = (
        CheckConstraint("every_seconds BETWEEN 60 AND 86400", name="every_seconds"),
        Index("ix_agenda_sources_due", "next_run_at", postgresql_where=text("active")),
    )

    practitioner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("practitioners.id"), primary_key=True)
    source_url: Mapped[str] = mapped_column(String(500))
    site_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sites.id"))
    token: Mapped[str | None] = mapped_column(String(4000))
    every_seconds: Mapped[int] = mapped_column(Integer, server_default=text("900"))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    next_run_at: Mapped[dt.datetime] = mapped_column(TZ, server_default=text("now()"))
    last_run_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    last_report: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[CreatedAt]
