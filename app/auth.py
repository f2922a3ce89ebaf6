"""Bearer JWT authentication and role checks.

Development tokens are HS256 signed with ``SNP_JWT_SECRET`` (``snp token``) and carry their rights:
``sub``, ``role``, ``territories`` (codes), ``practitioner_id`` (effectors), ``referrer_kind``.

With an identity provider (Pro Santé Connect, ``SNP_OIDC_*``), its tokens are verified against its
published keys and prove only who the user is — the subject, and the RPPS of the national id PSC puts
in ``SubjectNameID`` / ``preferred_username``. The rights come from the users registry
(``app/users``), never from claims the provider does not set; an identity not registered (or
disabled) is refused. Development tokens keep working beside the provider when ``SNP_ENV=development``.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Annotated, Any, Literal

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.config import Settings, get_settings
from app.edge import bearer_token
from app.errors import Forbidden, Unauthorized

Role = Literal["effector", "operator", "regulator", "urgences", "referrer", "analyst", "admin", "platform"]
# platform: the national SAS platform, reading every territory's slots through the FHIR facade.
ROLES: tuple[str, ...] = ("effector", "operator", "regulator", "urgences", "referrer", "analyst", "admin",
                          "platform")
# What a referrer is (a city professional referring patients to the SAS); the kind of a referrer's
# token comes from the user's record at the identity provider (claim ``referrer_kind``).
REFERRER_KINDS: tuple[str, ...] = ("pharmacist", "nurse", "medical_secretary", "social_worker",
                                   "other_professional")


@dataclass(frozen=True)
class Principal:
    sub: str
    role: str
    territories: tuple[str, ...] = field(default_factory=tuple)
    practitioner_id: uuid.UUID | None = None
    referrer_kind: str | None = None
    expires_at: float | None = None  # the token's exp (seconds since 1970)
    display_name: str | None = None  # from the users registry (identity provider's users)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


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


class Unregistered(Forbidden):
    """A valid token of the identity provider for someone the users registry does not know (or disabled)."""


@dataclass(frozen=True)
class Identity:
    """Who a token of the identity provider says the user is; the rights are looked up in the registry."""

    subject: str
    rpps: str | None
    expires_at: float


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
        rpps = national_rpps(claims, settings.oidc_national_id_claims)
        return Identity(subject=sub.strip(), rpps=rpps, expires_at=float(claims["exp"])), float(claims["exp"])
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


class Bearer(HTTPBearer):
    """The OpenAPI bearer scheme, read by ``app.edge.bearer_token``: the same reading as the rate budgets'."""

    async def __call__(self, request: Request) -> HTTPAuthorizationCredentials | None:  # type: ignore[override]
        token = bearer_token(request.headers.get("authorization"))
        return None if token is None else HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)


_bearer = Bearer(auto_error=False, scheme_name="HTTPBearer", description="JWT: `snp token --role R --territory 36`")


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthorized("Missing bearer token")
    settings: Settings = getattr(request.app.state, "settings", None) or get_settings()
    principal = await principal_of(request, credentials.credentials, settings)
    request.state.principal = principal
    return principal


async def principal_of(request: Request, token: str, settings: Settings) -> Principal:
    """Who a token is: a development token says it itself, the identity provider's through the registry."""
    verified = decode_token(token, settings)
    return verified if isinstance(verified, Principal) else await registered(request, verified)


# The registry's answer for an identity, kept a few seconds: a disabled user is refused within that time.
_REGISTERED: OrderedDict[tuple[str, str | None], tuple[Principal | None, float]] = OrderedDict()
REGISTRY_CACHE_SECONDS = 10.0


async def registered(request: Request, identity: Identity) -> Principal:
    """The rights of an identity of the provider, from the users registry."""
    key = (identity.subject, identity.rpps)
    now = time.monotonic()
    cached = _REGISTERED.get(key)
    if cached is None or cached[1] < now:
        from app.users.service import find_for_identity

        async with request.app.state.sessionmaker() as session:
            user = await find_for_identity(session, identity.subject, identity.rpps)
        found = None if user is None else Principal(
            sub=identity.subject, role=user.role, territories=tuple(user.territories),
            practitioner_id=user.practitioner_id, referrer_kind=user.referrer_kind, display_name=user.display_name)
        cached = (found, now + REGISTRY_CACHE_SECONDS)
        _REGISTERED[key] = cached
        if len(_REGISTERED) > _VERIFIED_MAX:
            _REGISTERED.popitem(last=False)
    found = cached[0]
    if found is None:
        raise Unregistered("This identity has no account here (or it is disabled): ask the SAS administrator "
                           "to register it", field="sub")
    return replace(found, expires_at=identity.expires_at)


def forget_registered() -> None:
    """Drop the registry answers kept in this process (after a change made here, and in tests)."""
    _REGISTERED.clear()


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: str):  # noqa: ANN201 - a FastAPI dependency factory
    allowed = frozenset(roles)

    async def _check(principal: PrincipalDep) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(f"Role {principal.role!r} may not do this (allowed: {', '.join(sorted(allowed))})")
        return principal

    return _check


AdminDep = Annotated[Principal, Depends(require_roles("admin"))]
EffectorDep = Annotated[Principal, Depends(require_roles("effector", "admin"))]
OperatorDep = Annotated[Principal, Depends(require_roles("operator", "regulator", "admin"))]
RegulatorDep = Annotated[Principal, Depends(require_roles("regulator", "admin"))]
SearcherDep = Annotated[Principal, Depends(require_roles("operator", "regulator", "urgences", "referrer", "admin"))]
ReferrerDep = Annotated[Principal, Depends(require_roles("referrer"))]
AnalystDep = Annotated[Principal, Depends(require_roles("analyst", "admin"))]
StaffDep = Annotated[
    Principal,
    Depends(require_roles("operator", "regulator", "urgences", "referrer", "analyst", "admin", "effector")),
]
