"""What the FHIR appointment exchanges keep: the appointments agenda software declared to us (their
identifier, the booking they became)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.columns import TZ, CreatedAt
from app.platform.database import Base


class DeclaredAppointment(Base):
    """An appointment an agenda (or another SAS service) declared to us: its identifier, the booking."""

    __tablename__ = "declared_appointments"

    system: Mapped[str] = mapped_column(String(500), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), primary_key=True)
    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bookings.id"), unique=True)
    declared_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[dt.datetime] = mapped_column(TZ, server_default=text("now()"))
