from __future__ import annotations

import json
from typing import Any

from sqlalchemy import CheckConstraint, Float, ForeignKey, String, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.columns import CreatedAt
from app.platform.database import Base

# A territory's callback target by priority, in minutes, until it sets its own.
DEFAULT_DELAYS = {"P1": 20, "P2": 60, "P3": 180}
DEFAULT_PRIORITY_DELAYS = json.dumps(DEFAULT_DELAYS)
DEFAULT_COEFFICIENTS = '{"advice": 0.1, "slot": 0.3, "prescription": 0.1, "other": 0.0}'


class Territory(Base):
    """A département, or a CPTS under a département; each has its IANA time zone."""

    __tablename__ = "territories"
    __table_args__ = (
        CheckConstraint("kind IN ('departement', 'cpts')", name="kind"),
        CheckConstraint("(kind = 'departement') = (parent_code IS NULL)", name="parent_matches_kind"),
        CheckConstraint(
            "avoided_ed_method IN ('declared_intent', 'coefficients')", name="avoided_ed_method"
        ),
        CheckConstraint("finess ~ '^([0-9]{2}|2[AB])[0-9]{7}$'", name="finess"),
    )

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("territories.code"), index=True)
    timezone: Mapped[str] = mapped_column(String(64))
    # Callback targets per priority, in minutes (P1 20 min, P2 1 h, P3 3 h unless set otherwise).
    priority_delays: Mapped[dict[str, Any]] = mapped_column(
        JSONB, server_default=text(f"'{DEFAULT_PRIORITY_DELAYS}'::jsonb")
    )
    # The postcodes a CPTS covers, set by an administrator (a département covers those La Poste places
    # in it): the report's coverage indicator is measured over them.
    postcodes: Mapped[list[str] | None] = mapped_column(ARRAY(String(5)))
    # A CPTS's FINESS (its juridical entity): how the national platform knows it (FHIR Organization).
    finess: Mapped[str | None] = mapped_column(String(9))
    avoided_ed_method: Mapped[str] = mapped_column(String(32), server_default=text("'declared_intent'"))
    avoided_ed_coefficients: Mapped[dict[str, Any]] = mapped_column(
        JSONB, server_default=text(f"'{DEFAULT_COEFFICIENTS}'::jsonb")
    )
    created_at: Mapped[CreatedAt]


class Postcode(Base):
    """A French postcode and the centroid of its communes (La Poste, app/reference; migration 0014)."""

    __tablename__ = "postcodes"
    __table_args__ = (CheckConstraint("(lat IS NULL) = (lon IS NULL)", name="coordinates"),)

    postcode: Mapped[str] = mapped_column(String(5), primary_key=True)
    departements: Mapped[list[str]] = mapped_column(ARRAY(String(3)))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    communes: Mapped[str] = mapped_column(Text)
