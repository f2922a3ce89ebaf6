"""The outbox's tables: its events, and where each of its in-order readers stands."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Identity, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.columns import TZ, XID8, CreatedAt, UUIDPk
from app.platform.database import Base


class OutboxEvent(Base):
    """An event for an effector, written in the same transaction as the change it reports.

    ``id`` is the stable event id (receivers deduplicate on it); ``seq`` orders the pull feed.
    """

    __tablename__ = "outbox_events"
    __table_args__ = (
        # Per practitioner: the relay reads the due events of practitioners with a webhook only, so the
        # events of the others (read from the pull feed, never pushed) cost it nothing.
        Index("ix_outbox_events_pending", "practitioner_id", "next_attempt_at", "seq",
              postgresql_where=text("delivered_at IS NULL")),
        Index("ix_outbox_events_practitioner_seq", "practitioner_id", "seq"),
        # The declarer to the national platform reads events in the order their transactions became final.
        Index("ix_outbox_events_xid_seq", "xid", "seq"),
    )

    id: Mapped[UUIDPk]
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    practitioner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("practitioners.id"))
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[CreatedAt]
    delivered_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[dt.datetime] = mapped_column(TZ, server_default=text("now()"))
    last_error: Mapped[str | None] = mapped_column(Text)
    # The transaction that wrote the event (app/fhir/declare.py reads the events whose transaction is final).
    xid: Mapped[str] = mapped_column(XID8, server_default=text("pg_current_xact_id()"))


class DeclarationCursor(Base):
    """The last outbox event (by transaction, then order) an in-order reader (the declarer to the national
    platform, the Hub Santé publisher) has settled."""

    __tablename__ = "declaration_cursors"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    xid: Mapped[str] = mapped_column(XID8)
    seq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(TZ, server_default=text("now()"))


class HeldEvent(Base):
    """An appointment event an in-order reader could not tell and did not drop: ``parked`` (who booked has no
    identifier the recipient accepts yet: told once he has one), ``refused`` (the recipient refused it for
    good: told again after a fix, ``snp declarations retry``), or ``behind`` (a later event of an appointment
    with one of those: told after it, in order). Its reader's cursor has moved on: the other appointments
    never wait for it."""

    __tablename__ = "held_events"
    __table_args__ = (
        CheckConstraint("state IN ('parked', 'refused', 'behind')", name="state"),
        Index("ix_held_events_reader_booking", "reader", "booking_id", "xid", "seq"),
    )

    reader: Mapped[str] = mapped_column(String(40), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bookings.id"))
    kind: Mapped[str] = mapped_column(String(64))
    xid: Mapped[str] = mapped_column(XID8)
    seq: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    status_code: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, server_default="1")
    held_at: Mapped[dt.datetime] = mapped_column(TZ, server_default=text("now()"))
    # When it was last tried: a parked event is tried again once its booker's registry entry changed after this.
    checked_at: Mapped[dt.datetime] = mapped_column(TZ, server_default=text("now()"))
    # Set by ``snp declarations retry``: a refused event is tried again at the next round.
    retry_requested_at: Mapped[dt.datetime | None] = mapped_column(TZ)
