"""Sessions opened from the national SAS platform: a regulator who arrives by the platform's link (its
``origin=sas``) signs in, and the token the identity provider gives then — and each one its refresh token
renews — is kept by its digest, for as long as it lives. A regulator account the platform registered has its
rights in such a session and in no other (the guide: "L'utilisateur ne doit pouvoir en disposer que lorsqu'il
se connecte via la plateforme numérique SAS"). Nothing of a token is kept but its SHA-256."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.models import PlatformSession
from app.auth.principal import Identity
from app.auth.registry import user_of
from app.auth.tokens import digest


async def open_from_platform(sessionmaker: async_sessionmaker[AsyncSession], identity: Identity,
                             refresh_token: str | None, refresh_seconds: int) -> bool:
    """Keep the token of a sign-in that came from the platform; False when the identity has no account."""
    user_id = await user_of(sessionmaker, identity)
    if user_id is None:
        return False
    await _keep(sessionmaker, user_id, identity, refresh_token, refresh_seconds)
    return True


async def carried_on(sessionmaker: async_sessionmaker[AsyncSession], kept_refresh: str, identity: Identity,
                     refresh_token: str | None, refresh_seconds: int) -> None:
    """A renewed token stays in the platform's session when the refresh token that renewed it was of one."""
    async with sessionmaker() as session:
        user_id = await session.scalar(select(PlatformSession.user_id).where(
            PlatformSession.refresh_digest == digest(kept_refresh)).limit(1))
    if user_id is not None:
        await _keep(sessionmaker, user_id, identity, refresh_token, refresh_seconds)


async def _keep(sessionmaker: async_sessionmaker[AsyncSession], user_id: object, identity: Identity,
                refresh_token: str | None, refresh_seconds: int) -> None:
    now = dt.datetime.now(dt.UTC)
    token_end = dt.datetime.fromtimestamp(identity.expires_at, dt.UTC)
    # The row lives as long as what can still use it: the access token, or the refresh token that renews it.
    ends = max(token_end, now + dt.timedelta(seconds=refresh_seconds)) if refresh_token else token_end
    async with sessionmaker() as session, session.begin():
        await session.execute(delete(PlatformSession).where(PlatformSession.expires_at < now))
        await session.execute(insert(PlatformSession).values(
            token_digest=identity.token_digest, user_id=user_id, expires_at=ends,
            refresh_digest=digest(refresh_token) if refresh_token else None,
        ).on_conflict_do_nothing())
