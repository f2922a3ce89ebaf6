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
    # Who booked and when, as the declaration gave them (FrAppointmentOperator's identifier, ``created``):
    # kept as given, and read back as given.
    operator_system: Mapped[str | None] = mapped_column(String(500))
    operator_value: Mapped[str | None] = mapped_column(String(200))
    operator_type: Mapped[str | None] = mapped_column(String(20))
    declared_created: Mapped[dt.datetime | None] = mapped_column(TZ)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[dt.datetime] = mapped_column(TZ, server_default=text("now()"))


class IdentifierSystem(Base):
    """An identifier system this software names its own things under, fixed the first time it is used
    (``appointment``: the system of the appointments we declare, under SNP_PUBLIC_URL, app/fhir/appointments.py),
    and ``legacy``: the one appointments declared before it keep, with the moment it stopped being used."""

    __tablename__ = "identifier_systems"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    system: Mapped[str] = mapped_column(String(500))
    since: Mapped[dt.datetime] = mapped_column(TZ, server_default=text("now()"))
