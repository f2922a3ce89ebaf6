"""A registered user: an identity of the identity provider (Pro Santé Connect) and the rights it has here
(the registry authentication reads; ``app/users`` administers it)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.columns import TZ, CreatedAt, UUIDPk
from app.platform.database import Base


class User(Base):
    """An identity (the provider's subject, or the RPPS its tokens carry) and its role, territories,
    practitioner (effectors) and kind (referrers). Tokens of the identity provider get their rights from
    here and from nothing else they carry."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("subject IS NOT NULL OR rpps IS NOT NULL", name="identified"),
        CheckConstraint("rpps ~ '^[0-9]{11}$'", name="rpps_format"),
        CheckConstraint("role IN ('effector', 'operator', 'regulator', 'urgences', 'referrer', 'analyst', 'admin', "
                        "'platform')", name="role"),
        CheckConstraint("role <> 'effector' OR practitioner_id IS NOT NULL", name="effector_practitioner"),
        CheckConstraint("(role = 'referrer') = (referrer_kind IS NOT NULL)", name="referrer_kind"),
    )

    id: Mapped[UUIDPk]
    # The identity provider's subject (claim sub) and/or the RPPS of its national id (8 + RPPS).
    subject: Mapped[str | None] = mapped_column(String(200), unique=True)
    rpps: Mapped[str | None] = mapped_column(String(11), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    # Who booked, as the SAMU is told (Hub Santé: regulator's names and e-mail); optional.
    family_name: Mapped[str | None] = mapped_column(String(100))
    given_name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    territories: Mapped[list[str]] = mapped_column(ARRAY(String(40)), server_default=text("'{}'"))
    practitioner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("practitioners.id"))
    referrer_kind: Mapped[str | None] = mapped_column(String(30))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[dt.datetime] = mapped_column(TZ, server_default=text("now()"))
