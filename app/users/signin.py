"""The console's sign-in through the identity provider (Pro Santé Connect): authorization code with PKCE.

The console sends the user to the provider with an S256 challenge; the provider sends back a code; the
console hands the code and its verifier to ``POST /v1/auth/token``, and the server exchanges them at
the provider's token endpoint — with the client secret, which never reaches a browser (PSC's clients
are confidential). The token the provider returns is then checked as every request's is, and its
identity looked up in the users registry before the console gets it.

A shift is longer than a token. The provider's refresh token never reaches JavaScript: the server keeps
it in an httpOnly, SameSite=Strict cookie scoped to ``/v1/auth`` (Secure over HTTPS), and
``POST /v1/auth/refresh`` exchanges it for a new access token — checked, and looked up in the registry,
as at sign-in: a disabled account renews nothing. ``POST /v1/auth/sign-out`` forgets it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from app.auth.principal import Identity, Principal
from app.auth.tokens import decode_token
from app.platform.config import Settings
from app.platform.errors import NotFound, Unauthorized, Unavailable
from app.platform.logging import log
from app.users.platform_sessions import carried_on, open_from_platform
from app.users.schemas import SignInConfig, SignInProvider, SignInRequest, SignInToken

DISCOVERY_SECONDS = 3600.0
TIMEOUT = httpx.Timeout(10.0)


# How a token the provider gave is checked: as every request's (signature, audience, the registry).
Check = Callable[[str], Awaitable[Principal]]


async def _endpoints(state: Any, settings: Settings) -> dict[str, str]:
    """The authorization and token endpoints: from the settings, else the issuer's discovery document
    (kept an hour)."""
    given = {"authorization_endpoint": settings.oidc_authorization_url, "token_endpoint": settings.oidc_token_url}
    if all(given.values()):
        return {k: str(v) for k, v in given.items()}
    cached: tuple[dict[str, Any], float] | None = getattr(state, "oidc_discovery", None)
    if cached is None or cached[1] < time.monotonic():
        url = str(settings.oidc_issuer).rstrip("/") + "/.well-known/openid-configuration"
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as client:
                response = await client.get(url)
                response.raise_for_status()
                document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("signin.discovery_failed", error=type(exc).__name__)
            raise Unavailable("The identity provider cannot be reached: retry later") from exc
        cached = (document, time.monotonic() + DISCOVERY_SECONDS)
        state.oidc_discovery = cached
    document = cached[0]
    return {k: str(v or document.get(k, "")) for k, v in given.items()}


def _configured(settings: Settings) -> bool:
    return bool(settings.oidc_jwks_url and settings.oidc_issuer and settings.oidc_client_id)


async def config(state: Any, settings: Settings) -> SignInConfig:
    paste = settings.env == "development" or not settings.oidc_jwks_url
    if not _configured(settings):
        return SignInConfig(provider=None, token_paste=paste)
    endpoints = await _endpoints(state, settings)
    return SignInConfig(
        provider=SignInProvider(issuer=str(settings.oidc_issuer), client_id=str(settings.oidc_client_id),
                                authorization_endpoint=endpoints["authorization_endpoint"], scope=settings.oidc_scope),
        token_paste=paste)


REFRESH_COOKIE = "snp_refresh"
REFRESH_PATH = "/v1/auth"
# How long the cookie lives when the provider does not say how long its refresh token does.
REFRESH_SECONDS = 12 * 3600


@dataclass(frozen=True)
class Grant:
    """What the provider gave: the console's token, and the refresh token the server keeps for it."""

    token: SignInToken
    refresh_token: str | None
    refresh_seconds: int


# What is done with a token the provider gave, before it is checked: (token, refresh token, its lifetime).
Keep = Callable[[str, str | None, int], Awaitable[None]]


async def _grant(check: Check, state: Any, settings: Settings, form: dict[str, str], field: str,
                 keep: Keep | None = None) -> Grant:
    """Ask the provider's token endpoint for a token (with the client secret), ``keep`` it, and ``check`` it."""
    endpoints = await _endpoints(state, settings)
    form = {**form, "client_id": str(settings.oidc_client_id)}
    auth = httpx.BasicAuth(str(settings.oidc_client_id), settings.oidc_client_secret) \
        if settings.oidc_client_secret else None
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False, auth=auth) as client:
            response = await client.post(endpoints["token_endpoint"], data=form,
                                         headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        log.warning("signin.token_endpoint_unreachable", error=type(exc).__name__)
        raise Unavailable("The identity provider cannot be reached: retry later") from exc
    if response.status_code != 200:
        # The provider's own error code (invalid_grant: a code used twice or too old, a wrong verifier, a
        # refresh token revoked or past its life).
        try:
            reason = str(response.json().get("error", response.status_code))[:100]
        except ValueError:
            reason = str(response.status_code)
        raise Unauthorized(f"The identity provider refused the {field.replace('_', ' ')} ({reason})", field=field)
    try:
        answer = response.json()
        token = str(answer["access_token"])
    except (ValueError, KeyError, TypeError) as exc:
        raise Unavailable("The identity provider answered without an access token") from exc
    refresh = answer.get("refresh_token")
    refresh = str(refresh) if isinstance(refresh, str) and refresh else None
    try:
        lifetime = max(int(answer.get("refresh_expires_in") or REFRESH_SECONDS), 0)
    except (TypeError, ValueError):
        lifetime = REFRESH_SECONDS
    if keep is not None:
        await keep(token, refresh, lifetime)
    principal = await check(token)
    expires = None if principal.expires_at is None else dt.datetime.fromtimestamp(principal.expires_at, dt.UTC)
    return Grant(SignInToken(access_token=token, expires_at=expires, role=principal.role,
                             display_name=principal.display_name, renewable=bool(refresh)), refresh, lifetime)


async def exchange(check: Check, state: Any, settings: Settings, data: SignInRequest) -> Grant:
    if not _configured(settings):
        raise NotFound("No identity provider is configured: paste a token instead")
    keep = None
    if data.origin == "sas":
        async def keep(token: str, refresh_token: str | None, lifetime: int) -> None:
            identity = decode_token(token, settings)
            if isinstance(identity, Identity):
                await open_from_platform(state.sessionmaker, identity, refresh_token, lifetime)

    grant = await _grant(check, state, settings, {"grant_type": "authorization_code", "code": data.code,
                                             "redirect_uri": data.redirect_uri,
                                             "code_verifier": data.code_verifier}, "code", keep)
    log.info("signin.done", role=grant.token.role, from_platform=data.origin == "sas")
    return grant


async def refresh(check: Check, state: Any, settings: Settings, kept: str | None) -> Grant:
    """A new token from the refresh token ``kept`` (the cookie's)."""
    if not _configured(settings):
        raise NotFound("No identity provider is configured: there is no session to renew")
    if not kept:
        raise Unauthorized("Nothing to renew: sign in again", field="refresh_token")
    async def keep(token: str, refresh_token: str | None, lifetime: int) -> None:
        identity = decode_token(token, settings)
        if isinstance(identity, Identity):  # still in the platform's session if the renewed one was
            await carried_on(state.sessionmaker, str(kept), identity, refresh_token or kept, lifetime)

    grant = await _grant(check, state, settings, {"grant_type": "refresh_token", "refresh_token": kept},
                         "refresh_token", keep)
    log.info("signin.renewed", role=grant.token.role)
    # A provider that does not rotate its refresh tokens keeps the one it gave.
    return grant if grant.refresh_token else Grant(grant.token, kept, grant.refresh_seconds)
