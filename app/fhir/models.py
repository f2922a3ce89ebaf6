"""What the FHIR appointment exchanges keep: where the declarer stands, and the appointments agenda
software declared to us (their identifier, the booking they became)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, ForeignKey, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.columns import TZ, XID8, CreatedAt
from app.platform.database import Base


class DeclarationCursor(Base):
    """The last outbox event (by transaction, then order) a declarer has sent on."""

    __tablename__ = "declaration_cursors"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    xid: Mapped[str] = mapped_column(XID8)
    seq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(TZ, server_default=text("now()"))


class DeclaredAppointment(Base):
    """An appointment an agenda (or another SAS service) declared to us: its identifier, the booking."""

    __tablename__ = "declared_appointments"

    system: Mapped[str] = mapped_column(String(500), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), primary_key=True)
    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bookings.id"), unique=True)
    declared_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[dt.datetime] = mapped_column(TZ, server_default=text("now()"))
