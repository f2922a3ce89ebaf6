"""The users registry as authentication reads it: the rights of an identity of the provider, found by its
subject or the RPPS its tokens carry, or of a client certificate, found by its issuer, CN and OU; kept a
few seconds (``users/`` administers the registry)."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import replace

from sqlalchemy import case, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.certificates import ClientCertificate
from app.auth.models import User
from app.auth.principal import Identity, Principal
from app.platform.errors import Forbidden


class Unregistered(Forbidden):
    """A valid token of the identity provider for someone the users registry does not know (or disabled)."""


class UnregisteredCertificate(Forbidden):
    """A client certificate the front verified, of no registered user (or a disabled one)."""


async def find_for_identity(session: AsyncSession, subject: str, rpps: str | None) -> User | None:
    """The active user the provider's identity names: by its subject first, else by the RPPS it carries."""
    stmt = select(User).where(User.active.is_(True))
    if rpps:
        stmt = stmt.where(or_(User.subject == subject, User.rpps == rpps))
        stmt = stmt.order_by(case((User.subject == subject, 0), else_=1))  # its own subject before its RPPS
    else:
        stmt = stmt.where(User.subject == subject)
    return await session.scalar(stmt.limit(1))


# The registry's answer for an identity, kept a few seconds: a disabled user is refused within that time.
_REGISTERED: OrderedDict[tuple[str, str | None], tuple[Principal | None, float]] = OrderedDict()
REGISTRY_CACHE_SECONDS = 10.0
REGISTERED_MAX = 4096


async def registered(sessionmaker: async_sessionmaker[AsyncSession], identity: Identity) -> Principal:
    """The rights of an identity of the provider, from the users registry."""
    key = (identity.subject, identity.rpps)
    now = time.monotonic()
    cached = _REGISTERED.get(key)
    if cached is None or cached[1] < now:
        async with sessionmaker() as session:
            user = await find_for_identity(session, identity.subject, identity.rpps)
        found = None if user is None else Principal(
            sub=identity.subject, role=user.role, territories=tuple(user.territories),
            practitioner_id=user.practitioner_id, referrer_kind=user.referrer_kind, display_name=user.display_name)
        cached = (found, now + REGISTRY_CACHE_SECONDS)
        _REGISTERED[key] = cached
        if len(_REGISTERED) > REGISTERED_MAX:
            _REGISTERED.popitem(last=False)
    found = cached[0]
    if found is None:
        raise Unregistered("This identity has no account here (or it is disabled): ask the SAS administrator "
                           "to register it", field="sub")
    return replace(found, expires_at=identity.expires_at)


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
