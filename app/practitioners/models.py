from __future__ import annotations

import uuid

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.columns import CreatedAt, UUIDPk
from app.platform.database import Base


class Practitioner(Base):
    """A volunteer doctor (médecin effecteur), identified by RPPS, and by ADELI where he has one."""

    __tablename__ = "practitioners"
    __table_args__ = (
        CheckConstraint("rpps ~ '^[0-9]{11}$'", name="rpps_format"),
        CheckConstraint("adeli ~ '^([0-9]{2}|2[AB])[0-9]{7}$'", name="adeli_format"),
        CheckConstraint("profession_code ~ '^[0-9]{2}$'", name="profession_code"),
        CheckConstraint("specialty_code ~ '^S[A-Z]{1,2}[0-9]{2}$'", name="specialty_code"),
        # The few practitioners the outbox relay pushes to.
        Index("ix_practitioners_webhook", "id", postgresql_where=text("webhook_url IS NOT NULL")),
    )

    id: Mapped[UUIDPk]
    rpps: Mapped[str] = mapped_column(String(11), unique=True)
    # The ADELI number, where he has one: the national id the ANS guide accepts beside the RPPS (0 + ADELI).
    adeli: Mapped[str | None] = mapped_column(String(9), unique=True)
    family_name: Mapped[str] = mapped_column(String(100))
    given_name: Mapped[str] = mapped_column(String(100))
    specialty: Mapped[str] = mapped_column(String(100))
    # ANS nomenclatures (app/reference): TRE-G15 profession, TRE-R38 ordinal specialty (SM54 médecine générale)
    profession_code: Mapped[str] = mapped_column(String(2), server_default="10")
    specialty_code: Mapped[str | None] = mapped_column(String(5))
    languages: Mapped[list[str]] = mapped_column(ARRAY(String(2)), server_default=text("'{fr}'"))
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    webhook_secret: Mapped[str | None] = mapped_column(String(200))
    # The doctor agrees to be asked for over-capacity appointments (rendez-vous en surnuméraire).
    accepts_over_capacity: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    # Where the regulation calls him (to agree an over-capacity appointment), without separators.
    phone: Mapped[str | None] = mapped_column(String(20))
    # His secure-messaging (MSSanté) address: where a visit's report goes when a call names him as the patient's
    # médecin traitant (a professional's address, not the patient's data).
    mssante_address: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[CreatedAt]


class PractitionerTerritory(Base):
    """The territories a practitioner serves (may publish slots at their sites)."""

    __tablename__ = "practitioner_territories"

    practitioner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("practitioners.id", ondelete="CASCADE"), primary_key=True
    )
    territory_code: Mapped[str] = mapped_column(ForeignKey("territories.code"), primary_key=True, index=True)


class PractitionerSite(Base):
    """The sites a practitioner calls his own (each in a territory he serves): over-capacity appointments
    are recorded only there."""

    __tablename__ = "practitioner_sites"

    practitioner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("practitioners.id", ondelete="CASCADE"), primary_key=True
    )
    site_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True,
                                               index=True)
