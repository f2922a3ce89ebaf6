"""The outbox's tables: its events, and where each of its in-order readers stands."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, Integer, String, Text, text
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
