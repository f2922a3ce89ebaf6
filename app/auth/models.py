"""A registered user: an identity of the identity provider (Pro Santé Connect) and the rights it has here
(the registry authentication reads; ``app/users`` administers it)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.columns import TZ, CreatedAt, UUIDPk
from app.platform.database import Base


class User(Base):
    """An identity (the provider's subject, the RPPS its tokens carry, or a client certificate's issuer, CN
    and OU) and its role, territories, practitioner (effectors) and kind (referrers). Tokens of the
    identity provider and client certificates get their rights from here and from nothing else they carry."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("subject IS NOT NULL OR rpps IS NOT NULL OR certificate_cn IS NOT NULL "
                        "OR national_id IS NOT NULL OR sas_technical_id IS NOT NULL", name="identified"),
        # The national platform's regulator accounts (INT_R02) are regulators, and only they.
        CheckConstraint("provisioned_by IS NULL OR (provisioned_by = 'ptf-sas' AND role = 'regulator')",
                        name="provisioned_by"),
        CheckConstraint("rpps ~ '^[0-9]{11}$'", name="rpps_format"),
        CheckConstraint("role IN ('effector', 'operator', 'regulator', 'urgences', 'referrer', 'analyst', 'admin', "
                        "'platform', 'coordinator')", name="role"),
        CheckConstraint("role <> 'effector' OR practitioner_id IS NOT NULL", name="effector_practitioner"),
        CheckConstraint("(role = 'referrer') = (referrer_kind IS NOT NULL)", name="referrer_kind"),
        # A certificate is the national platform's way in (mutual TLS), and only its.
        CheckConstraint("certificate_cn IS NULL OR role = 'platform'", name="certificate_platform"),
        CheckConstraint("(certificate_issuer IS NULL) = (certificate_cn IS NULL) "
                        "AND (certificate_ou IS NULL) = (certificate_cn IS NULL)", name="certificate_whole"),
        UniqueConstraint("certificate_issuer", "certificate_cn", "certificate_ou"),
    )

    id: Mapped[UUIDPk]
    # The identity provider's subject (claim sub) and/or the RPPS of its national id (8 + RPPS).
    subject: Mapped[str | None] = mapped_column(String(200), unique=True)
    rpps: Mapped[str | None] = mapped_column(String(11), unique=True)
    # The regulator's identifier as the national platform gave it (its regulator accounts, INT_R02), told back
    # as the operator of the appointments he books: his national id (IDNPS) in whatever form it has
    # ("810001234567", "3456780581/11242343", "3620100057/70326SR"), or, without one, the SAS technical id
    # (INTRN, urn:oid:1.2.250.1.213.3.6). Never made up here.
    national_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    sas_technical_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    # Who booked, as the SAMU is told (Hub Santé: regulator's names and e-mail); optional.
    family_name: Mapped[str | None] = mapped_column(String(100))
    given_name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(200))
    # A client certificate (mutual TLS, app/auth/certificates.py): its issuer (RFC 4514), its subject's CN
    # and OUs (RFC 4514, "" without any). A renewed certificate keeps them.
    certificate_issuer: Mapped[str | None] = mapped_column(String(500))
    certificate_cn: Mapped[str | None] = mapped_column(String(200))
    certificate_ou: Mapped[str | None] = mapped_column(String(500))
    role: Mapped[str] = mapped_column(String(20))
    territories: Mapped[list[str]] = mapped_column(ARRAY(String(40)), server_default=text("'{}'"))
    practitioner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("practitioners.id"))
    referrer_kind: Mapped[str | None] = mapped_column(String(30))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    # Who registered the account: NULL here (an administrator, ``snp users add``), ``ptf-sas`` the national
    # platform (its regulator accounts, ``/fhir/Practitioner``): such a regulator's rights hold only in a
    # session opened from the platform (``origin=sas``), and once he accepted our terms of use.
    provisioned_by: Mapped[str | None] = mapped_column(String(40))
    # The terms of use the user accepted (their version: a digest of their text) and when.
    terms_version: Mapped[str | None] = mapped_column(String(64))
    terms_accepted_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[dt.datetime] = mapped_column(TZ, server_default=text("now()"))


class PlatformSession(Base):
    """A session opened from the national platform (its booking link carries ``origin=sas``): the token the
    identity provider gave then, and the refresh token that renews it, known by their digests only. A
    regulator the platform registered has his rights in such a session and in no other."""

    __tablename__ = "platform_sessions"

    token_digest: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    refresh_digest: Mapped[bytes | None] = mapped_column(LargeBinary, index=True)
    expires_at: Mapped[dt.datetime] = mapped_column(TZ, index=True)
    created_at: Mapped[CreatedAt]


class RegistryGeneration(Base):
    """One row, its number bumped by a trigger on every change to ``users`` (in the changing transaction):
    each process compares it with the one it read last, and forgets what it keeps of the registry when it
    moved (app/auth/revocation.py)."""

    __tablename__ = "registry_generation"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
