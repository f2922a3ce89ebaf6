"""The users registry: who may sign in through the identity provider, with which rights."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth import terms
from app.auth.certificates import ClientCertificate
from app.auth.models import User
from app.auth.principal import Principal
from app.platform.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.practitioners.models import Practitioner
from app.territories.models import Territory
from app.users.schemas import UserCreate, UserUpdate


async def create(session: AsyncSession, principal: Principal | None, data: UserCreate) -> User:
    for name, value in (("subject", data.subject), ("rpps", data.rpps), ("national_id", data.national_id),
                        ("sas_technical_id", data.sas_technical_id)):
        if value is not None and await session.scalar(select(User.id).where(getattr(User, name) == value)):
            raise Conflict(f"A user with this {name} is already registered", field=name)
    await _check_territories(session, data.territories)
    practitioner_id = data.practitioner_id
    if data.role == "effector" and practitioner_id is None and data.rpps:
        practitioner_id = await session.scalar(select(Practitioner.id).where(Practitioner.rpps == data.rpps))
    await _check_practitioner(session, data.role, practitioner_id)
    user = User(subject=data.subject, rpps=data.rpps, national_id=data.national_id,
                sas_technical_id=data.sas_technical_id, display_name=data.display_name, family_name=data.family_name,
                given_name=data.given_name, email=data.email, role=data.role,
                territories=sorted(set(data.territories)), practitioner_id=practitioner_id,
                referrer_kind=data.referrer_kind)
    session.add(user)
    await session.flush()
    await session.refresh(user)
    audit.record(session, principal, "user.created", detail={"user_id": str(user.id), "role": user.role,
                                                              "territories": user.territories})
    return user


async def register_certificate(session: AsyncSession, principal: Principal | None, display_name: str,
                               certificate: ClientCertificate) -> User:
    """Register the national platform's client certificate (role ``platform``): known from then on by its
    issuer and subject CN and OU, so that its renewal needs nothing here."""
    taken = await session.scalar(select(User.id).where(
        User.certificate_issuer == certificate.issuer, User.certificate_cn == certificate.cn,
        User.certificate_ou == certificate.ou))
    if taken is not None:
        raise Conflict(f"A user with this certificate's issuer, CN and OU is already registered ({taken})",
                       field="certificate")
    user = User(display_name=display_name, role="platform", certificate_issuer=certificate.issuer,
                certificate_cn=certificate.cn, certificate_ou=certificate.ou)
    session.add(user)
    await session.flush()
    await session.refresh(user)
    audit.record(session, principal, "user.created", detail={"user_id": str(user.id), "role": user.role,
                                                              "certificate": certificate.describe()})
    return user


async def update(session: AsyncSession, principal: Principal | None, user_id: uuid.UUID, data: UserUpdate) -> User:
    user = await get(session, user_id, lock=True)
    changes = data.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None and name not in ("practitioner_id", "referrer_kind", "family_name", "given_name", "email",
                                          "national_id", "sas_technical_id"):
            raise Unprocessable(f"{name} cannot be null", field=name)
    if "territories" in changes:
        await _check_territories(session, changes["territories"])
        changes["territories"] = sorted(set(changes["territories"]))
    role = changes.get("role", user.role)
    if user.certificate_cn is not None and role != "platform":
        raise Unprocessable("a user known by its client certificate is the national platform: role platform",
                            field="role")
    kind = changes.get("referrer_kind", user.referrer_kind if role == "referrer" else None)
    if role == "referrer" and kind is None:
        raise Unprocessable("a referrer needs its kind", field="referrer_kind")
    if role != "referrer" and kind is not None:
        raise Unprocessable("only a referrer has a kind", field="referrer_kind")
    changes["referrer_kind"] = kind
    for name in ("national_id", "sas_technical_id"):
        value = changes.get(name)
        if value is not None and await session.scalar(select(User.id).where(getattr(User, name) == value,
                                                                            User.id != user.id)):
            raise Conflict(f"A user with this {name} is already registered", field=name)
    practitioner_id = changes.get("practitioner_id", user.practitioner_id)
    await _check_practitioner(session, role, practitioner_id)
    for name, value in changes.items():
        setattr(user, name, value)
    user.updated_at = func.now()
    await session.flush()
    await session.refresh(user)
    audit.record(session, principal, "user.updated", detail={"user_id": str(user.id), "changed": sorted(changes)})
    return user


async def get(session: AsyncSession, user_id: uuid.UUID, *, lock: bool = False) -> User:
    stmt = select(User).where(User.id == user_id)
    if lock:
        stmt = stmt.with_for_update()
    user = await session.scalar(stmt)
    if user is None:
        raise NotFound(f"User {user_id} not found")
    return user


async def list_(session: AsyncSession, *, role: str | None, territory: str | None, active: bool | None,
                search: str | None, limit: int, offset: int) -> Sequence[User]:
    stmt = select(User).order_by(User.display_name, User.id).limit(limit).offset(offset)
    if role:
        stmt = stmt.where(User.role == role)
    if territory:
        stmt = stmt.where(User.territories.contains([territory]))
    if active is not None:
        stmt = stmt.where(User.active.is_(active))
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(User.display_name.ilike(pattern), User.rpps == search, User.subject == search))
    return (await session.scalars(stmt)).all()


async def _check_territories(session: AsyncSession, codes: list[str]) -> None:
    if not codes:
        return
    known = set((await session.scalars(select(Territory.code).where(Territory.code.in_(codes)))).all())
    for index, code in enumerate(codes):
        if code not in known:
            raise Unprocessable(f"Unknown territory {code}", field=f"territories.{index}")


async def _check_practitioner(session: AsyncSession, role: str, practitioner_id: uuid.UUID | None) -> None:
    if role == "effector" and practitioner_id is None:
        raise Unprocessable("an effector is a practitioner: give practitioner_id (or the RPPS of a registered "
                            "practitioner)", field="practitioner_id")
    if practitioner_id is not None and await session.get(Practitioner, practitioner_id) is None:
        raise Unprocessable(f"Unknown practitioner {practitioner_id}", field="practitioner_id")


async def accept_terms(session: AsyncSession, principal: Principal, version: str) -> User:
    """The signed-in user accepts the current terms of use (``version``: the one he read)."""
    if principal.user_id is None:
        raise Forbidden("This token names no account of the users registry: it has no terms to accept",
                        field="terms")
    if version != terms.version():
        raise Conflict("These terms are no longer the current ones: read them again (GET /v1/auth/terms)",
                       field="version")
    user = await get(session, principal.user_id, lock=True)
    user.terms_version, user.terms_accepted_at = version, func.now()
    await session.flush()
    await session.refresh(user)
    audit.record(session, principal, "user.terms_accepted", detail={"user_id": str(user.id), "version": version})
    return user
