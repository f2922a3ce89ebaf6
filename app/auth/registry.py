"""The users registry as authentication reads it: the rights of an identity of the provider, found by its
subject or the RPPS its tokens carry, or of a client certificate, found by its issuer, CN and OU; kept a
few seconds (``users/`` administers the registry)."""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, replace

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth import terms
from app.auth.certificates import ClientCertificate
from app.auth.models import PlatformSession, User
from app.auth.principal import Identity, Principal
from app.platform.errors import Forbidden
from app.platform.logging import log

# Who registered the national platform's regulator accounts (users.provisioned_by).
PLATFORM = "ptf-sas"


class Unregistered(Forbidden):
    """A valid token of the identity provider for someone the users registry does not know (or disabled)."""


class UnregisteredCertificate(Forbidden):
    """A client certificate the front verified, of no registered user (or a disabled one)."""


async def find_for_identity(session: AsyncSession, subject: str, rpps: str | None,
                            national_id: str | None = None) -> User | None:
    """The active user the provider's identity names: by its subject first, else by the whole national id it
    carries (the national platform's regulator accounts are known by it, in any form), else by its RPPS."""
    named = [User.subject == subject]
    if national_id:
        named.append(User.national_id == national_id)
    if rpps:
        named.append(User.rpps == rpps)
    stmt = select(User).where(User.active.is_(True), or_(*named))
    if len(named) > 1:
        stmt = stmt.order_by(case((User.subject == subject, 0), (named[1], 1), else_=2))
    return await session.scalar(stmt.limit(1))


@dataclass(frozen=True)
class _Registered:
    principal: Principal
    user_id: uuid.UUID
    # An account the national platform registered: its rights hold only in a session opened from it.
    platform_only: bool


# The registry's answer for an identity, kept a few seconds: a disabled user is refused within that time.
_REGISTERED: OrderedDict[tuple[str, str | None, str | None], tuple[_Registered | None, float]] = OrderedDict()
REGISTRY_CACHE_SECONDS = 10.0
REGISTERED_MAX = 4096
# Whether a token is one of a session opened from the national platform: yes until it expires, no a moment.
_PLATFORM_SESSIONS: OrderedDict[bytes, tuple[bool, float]] = OrderedDict()
NOT_FROM_PLATFORM_SECONDS = 2.0


class OutsidePlatform(Forbidden):
    """A regulator account of the national platform, used in a session that did not start from it."""


async def registered(sessionmaker: async_sessionmaker[AsyncSession], identity: Identity) -> Principal:
    """The rights of an identity of the provider, from the users registry."""
    key = (identity.subject, identity.rpps, identity.national_id)
    now = time.monotonic()
    cached = _REGISTERED.get(key)
    if cached is None or cached[1] < now:
        async with sessionmaker() as session:
            user = await find_for_identity(session, identity.subject, identity.rpps, identity.national_id)
            found = None if user is None else _Registered(Principal(
                sub=identity.subject, role=user.role, territories=tuple(user.territories),
                practitioner_id=user.practitioner_id, referrer_kind=user.referrer_kind, display_name=user.display_name,
                pending="terms" if user.provisioned_by == PLATFORM and user.terms_version != terms.version() else None,
                user_id=user.id), user.id, user.provisioned_by == PLATFORM)
            if user is not None and user.subject is None:
                await _bind(session, user, identity.subject)
        cached = (found, now + REGISTRY_CACHE_SECONDS)
        _REGISTERED[key] = cached
        if len(_REGISTERED) > REGISTERED_MAX:
            _REGISTERED.popitem(last=False)
    found = cached[0]
    if found is None:
        raise Unregistered("This identity has no account here (or it is disabled): ask the SAS administrator "
                           "to register it", field="sub")
    if found.platform_only and not await from_platform(sessionmaker, identity.token_digest):
        raise OutsidePlatform("This regulator account of the national SAS platform works only in a session opened "
                              "from the platform (its link, with origin=sas): open the slot from the platform",
                              field="origin")
    return replace(found.principal, expires_at=identity.expires_at)


async def _bind(session: AsyncSession, user: User, subject: str) -> None:
    """An account known by its national id or RPPS learns the provider's subject of its first token: what it
    books is named by that subject (``bookings.created_by``), and the declarations and the Hub find its
    national id through it. Once: a subject another account has is left alone."""
    try:
        await session.execute(update(User).where(User.id == user.id, User.subject.is_(None)).values(subject=subject))
        await session.commit()
    except IntegrityError:
        await session.rollback()
        log.warning("registry.subject_taken", user_id=str(user.id))


async def user_of(sessionmaker: async_sessionmaker[AsyncSession], identity: Identity) -> uuid.UUID | None:
    """The registered user an identity of the provider is (the sign-in keeps a platform session for it)."""
    async with sessionmaker() as session:
        user = await find_for_identity(session, identity.subject, identity.rpps, identity.national_id)
    return None if user is None else user.id


async def from_platform(sessionmaker: async_sessionmaker[AsyncSession], token_digest: bytes) -> bool:
    """Whether the token is one of a session opened from the national platform (and not expired)."""
    now = time.monotonic()
    cached = _PLATFORM_SESSIONS.get(token_digest)
    if cached is not None and cached[1] >= now:
        return cached[0]
    async with sessionmaker() as session:
        expires = await session.scalar(select(PlatformSession.expires_at).where(
            PlatformSession.token_digest == token_digest, PlatformSession.expires_at > func.now()))
    answer = (True, now + max(0.0, expires.timestamp() - time.time())) if expires is not None \
        else (False, now + NOT_FROM_PLATFORM_SECONDS)
    _PLATFORM_SESSIONS[token_digest] = answer
    if len(_PLATFORM_SESSIONS) > REGISTERED_MAX:
        _PLATFORM_SESSIONS.popitem(last=False)
    return answer[0]


_CERTIFIED: OrderedDict[tuple[str, str, str], tuple[Principal | None, float]] = OrderedDict()


async def find_for_certificate(session: AsyncSession, certificate: ClientCertificate) -> User | None:
    """The active user a client certificate names: by its issuer and its subject's CN and OU."""
    return await session.scalar(select(User).where(
        User.active.is_(True), User.certificate_issuer == certificate.issuer, User.certificate_cn == certificate.cn,
        User.certificate_ou == certificate.ou).limit(1))


async def certified(sessionmaker: async_sessionmaker[AsyncSession], certificate: ClientCertificate) -> Principal:
    """The rights of a client certificate (verified by the front), from the users registry."""
    now = time.monotonic()
    cached = _CERTIFIED.get(certificate.key)
    if cached is None or cached[1] < now:
        async with sessionmaker() as session:
            user = await find_for_certificate(session, certificate)
        found = None if user is None else Principal(
            sub=f"certificate:{user.id}", role=user.role, territories=tuple(user.territories),
            display_name=user.display_name)
        cached = (found, now + REGISTRY_CACHE_SECONDS)
        _CERTIFIED[certificate.key] = cached
        if len(_CERTIFIED) > REGISTERED_MAX:
            _CERTIFIED.popitem(last=False)
    found = cached[0]
    if found is None:
        raise UnregisteredCertificate(f"This certificate ({certificate.describe()}) is not registered here (or its "
                                      "user is disabled): ask the SAS administrator to register it",
                                      field="X-Client-Cert")
    return replace(found, expires_at=certificate.not_after.timestamp())


def forget_registered() -> None:
    """Drop the registry answers kept in this process (after a change made here, and in tests)."""
    _REGISTERED.clear()
    _CERTIFIED.clear()
    _PLATFORM_SESSIONS.clear()
