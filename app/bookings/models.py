from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB, ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.columns import TZ, CreatedAt, UUIDPk
from app.platform.database import Base


class Booking(Base):
    """A slot booked for a call (orientation vers un créneau SNP)."""

    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'cancelled')", name="status"),
        CheckConstraint("outcome IS NULL OR outcome IN ('fulfilled', 'noshow')", name="outcome"),
        # Never two patients in one slot: one active booking per slot, whatever the code does.
        Index("uq_bookings_active_slot", "slot_id", unique=True, postgresql_where=text("status = 'active'")),
        # "My bookings" (an ED nurse's redirections), newest first.
        Index("ix_bookings_created_by_created_at", "created_by", "created_at"),
        # One active booking per call, unless a second says it is deliberate (``also``); checked at the
        # end of each statement, so that one statement may replace a booking by another.
        ExcludeConstraint(("call_id", "="), where=text("status = 'active' AND NOT also"), using="btree",
                          deferrable=True, initially="IMMEDIATE", name="ex_bookings_one_active_per_call"),
    )

    id: Mapped[UUIDPk]
    slot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("slots.id"), index=True)
    call_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), server_default="active")
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[CreatedAt]
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    cancelled_by: Mapped[str | None] = mapped_column(String(200))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    also: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    outcome: Mapped[str | None] = mapped_column(String(16))
    outcome_note: Mapped[str | None] = mapped_column(Text)
    outcome_at: Mapped[dt.datetime | None] = mapped_column(TZ)


class IdempotencyKey(Base):
    """The first answer to a request with an ``Idempotency-Key``, replayed for the same key and body."""

    __tablename__ = "idempotency_keys"

    principal_sub: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[CreatedAt]
