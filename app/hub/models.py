"""What the Hub Santé flow keeps: each message sent to a SAMU, and what came back for it."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.columns import TZ
from app.platform.database import Base


class HubMessage(Base):
    """One appointment message the broker confirmed (one per outbox event), and the LRM's answer: its final
    acknowledgement (RC-REF: when, at which step, refused or not) or an error (the Hub's or the LRM's)."""

    __tablename__ = "hub_messages"
    __table_args__ = (Index("ix_hub_messages_booking", "booking_id", "sent_at"),)

    distribution_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bookings.id"))
    recipient: Mapped[str] = mapped_column(String(100))
    method: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    sent_at: Mapped[dt.datetime] = mapped_column(TZ)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    ack_step: Mapped[str | None] = mapped_column(String(20))
    refused: Mapped[bool | None] = mapped_column(Boolean)
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_cause: Mapped[str | None] = mapped_column(Text)
    error_at: Mapped[dt.datetime | None] = mapped_column(TZ)
