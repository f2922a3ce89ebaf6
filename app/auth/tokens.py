"""Tokens: minted for development (``snp token``, HS256 with ``SNP_JWT_SECRET``), verified for development
and for the identity provider (its JWKS); a token already verified is not verified again until it expires."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import OrderedDict
from functools import lru_cache
from typing import Any

import jwt

from app.auth.principal import REFERRER_KINDS, ROLES, Identity, Principal
from app.platform.config import Settings
from app.platform.errors import Unauthorized


def create_token(
    settings: Settings,
    *,
    role: str,
    territories: list[str] | tuple[str, ...] = (),
    practitioner_id: str | uuid.UUID | None = None,
    sub: str | None = None,
    ttl_seconds: int = 8 * 3600,
    referrer_kind: str | None = None,
) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if role == "effector" and not practitioner_id:
        raise ValueError("an effector token needs a practitioner id")
    if role == "referrer" and referrer_kind not in REFERRER_KINDS:
        raise ValueError(f"a referrer token needs its kind: one of {', '.join(REFERRER_KINDS)}")
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub or f"{role}-{uuid.uuid4().hex[:8]}",
        "role": role,
        "territories": list(territories),
        "iss": settings.jwt_issuer,
        "iat": now,
        "nbf": now - 5,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    if practitioner_id:
        claims["practitioner_id"] = str(practitioner_id)
    if referrer_kind:
        claims["referrer_kind"] = referrer_kind
    return jwt.encode(claims, settings.jwt_secret, algorithm=settings.jwt_algorithm)


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=3600)


_VERIFIED: OrderedDict[tuple[str, ...], tuple[Principal | Identity, float]] = OrderedDict()
_VERIFIED_MAX = 4096


def decode_token(token: str, settings: Settings) -> Principal | Identity:
    """The principal of a valid development token, or the identity of a valid provider token. A token
    already verified is not verified again until it expires: consoles send the same token on every
    request and a signature check costs more than the request."""
    key = (token, settings.jwt_secret, settings.jwt_issuer, str(settings.jwt_audience),
           str(settings.oidc_jwks_url), str(settings.oidc_issuer), str(settings.oidc_audience))
    cached = _VERIFIED.get(key)
    if cached is not None:
        principal, expires = cached
        if time.time() < expires:
            _VERIFIED.move_to_end(key)
            return principal
        del _VERIFIED[key]
    principal, expires = _verify(token, settings)
    _VERIFIED[key] = (principal, expires)
    if len(_VERIFIED) > _VERIFIED_MAX:
        _VERIFIED.popitem(last=False)
    return principal


def _is_development_token(token: str, settings: Settings) -> bool:
    """Beside an identity provider, an HS256 token of ``snp token`` is accepted in development only."""
    if settings.env != "development":
        return False
    try:
        return jwt.get_unverified_header(token).get("alg") == settings.jwt_algorithm
    except jwt.InvalidTokenError:
        return False


def national_rpps(claims: dict[str, Any], names: list[str]) -> str | None:
    """The RPPS of the national id a Pro Santé Connect token carries (``8`` + the 11 RPPS digits)."""
    for name in names:
        value = claims.get(name)
        if isinstance(value, str) and len(value) == 12 and value.startswith("8") and value.isdigit():
            return value[1:]
    return None


def national_id(claims: dict[str, Any], names: list[str]) -> str | None:
    """The national id a Pro Santé Connect token carries, whole and as given (any form, at most 100 characters)."""
    for name in names:
        value = claims.get(name)
        if isinstance(value, str) and 0 < len(value.strip()) <= 100:
            return value.strip()
    return None


def digest(token: str) -> bytes:
    """What a token is known by where it is kept (a session opened from the national platform)."""
    return hashlib.sha256(token.encode()).digest()


def _verify(token: str, settings: Settings) -> tuple[Principal | Identity, float]:
    try:
        if settings.oidc_jwks_url and not _is_development_token(token, settings):
            key = _jwks_client(settings.oidc_jwks_url).get_signing_key_from_jwt(token).key
            claims = jwt.decode(
                token,
                key,
                algorithms=settings.oidc_algorithms,
                audience=settings.oidc_audience,
                issuer=settings.oidc_issuer,
                options={"require": ["exp", "sub"], "verify_aud": settings.oidc_audience is not None},
            )
        else:
            claims = jwt.decode(
                token,
                settings.jwt_secret,
                algorithms=[settings.jwt_algorithm],
                audience=settings.jwt_audience,
                issuer=settings.jwt_issuer,
                options={"require": ["exp", "sub"], "verify_aud": settings.jwt_audience is not None},
            )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("Token expired") from exc
    except jwt.PyJWKClientError as exc:
        raise Unauthorized("Token signing key unknown to the identity provider") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"Invalid token: {exc}") from exc

    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip() or len(sub) > 200:
        # The subject names who did what in the audit trail and on every booking: never empty.
        raise Unauthorized("Token subject (sub) must be a non-empty string of at most 200 characters")
    if settings.oidc_jwks_url and claims.get("iss") == settings.oidc_issuer:
        names = settings.oidc_national_id_claims
        identity = Identity(subject=sub.strip(), rpps=national_rpps(claims, names), expires_at=float(claims["exp"]),
                            national_id=national_id(claims, names), token_digest=digest(token))
        return identity, float(claims["exp"])
    role = claims.get("role")
    if role not in ROLES:
        raise Unauthorized("Token has no valid role claim")
    territories = claims.get("territories") or []
    if isinstance(territories, str):
        territories = [territories]
    if not isinstance(territories, list) or not all(isinstance(t, str) for t in territories):
        raise Unauthorized("Token territories claim must be a list of codes")
    practitioner_id = None
    if claims.get("practitioner_id"):
        try:
            practitioner_id = uuid.UUID(str(claims["practitioner_id"]))
        except ValueError as exc:
            raise Unauthorized("Token practitioner_id claim is not a UUID") from exc
    if role == "effector" and practitioner_id is None:
        raise Unauthorized("Effector token without practitioner_id")
    referrer_kind = claims.get("referrer_kind") if role == "referrer" else None
    if role == "referrer" and referrer_kind not in REFERRER_KINDS:
        raise Unauthorized(f"Referrer token without a valid referrer_kind ({', '.join(REFERRER_KINDS)})")
    principal = Principal(
        sub=sub.strip(), role=role, territories=tuple(territories), practitioner_id=practitioner_id,
        referrer_kind=referrer_kind, expires_at=float(claims["exp"]),
    )
    return principal, float(claims["exp"])
