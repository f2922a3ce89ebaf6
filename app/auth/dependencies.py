"""The FastAPI dependencies of authentication: the bearer token read once (``app.http.edge.bearer_token``,
the same reading as the rate budgets'), or without one the client certificate a trusted front verified
(mutual TLS, ``app.auth.certificates``); the principal it is, and the role checks routes declare."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth import certificates
from app.auth.principal import ROLES, Principal
from app.auth.registry import certified, registered
from app.auth.tokens import decode_token
from app.http.proxies import bearer_token
from app.platform.config import Settings, get_settings
from app.platform.errors import Forbidden, Unauthorized


class Bearer(HTTPBearer):
    """The OpenAPI bearer scheme, read by ``app.http.edge.bearer_token``: the same reading as the rate budgets'."""

    async def __call__(self, request: Request) -> HTTPAuthorizationCredentials | None:  # type: ignore[override]
        token = bearer_token(request.headers.get("authorization"))
        return None if token is None else HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)


_bearer = Bearer(auto_error=False, scheme_name="HTTPBearer", description="JWT: `snp token --role R --territory 36`")


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is not None:
        settings: Settings = getattr(request.app.state, "settings", None) or get_settings()
        principal = await principal_of(request, credentials.credentials, settings)
    else:
        # Present only when a trusted front verified the client's certificate (app/http/proxies.py).
        certificate = request.headers.get(certificates.HEADER)
        if not certificate:
            raise Unauthorized("Missing bearer token (or client certificate)")
        principal = await certified(request.app.state.sessionmaker, certificates.presented(certificate))
    request.state.principal = principal
    return principal


async def principal_of(request: Request, token: str, settings: Settings) -> Principal:
    """Who a token is: a development token says it itself, the identity provider's through the registry."""
    verified = decode_token(token, settings)
    return verified if isinstance(verified, Principal) else await registered(request.app.state.sessionmaker, verified)


PrincipalDep = Annotated[Principal, Depends(current_principal)]


class TermsNotAccepted(Forbidden):
    """A regulator of the national platform at his first sign-in: our terms of use come before any right."""


def require_roles(*roles: str):  # noqa: ANN201 - a FastAPI dependency factory
    allowed = frozenset(roles)

    async def _check(principal: PrincipalDep) -> Principal:
        if principal.pending == "terms":
            raise TermsNotAccepted("Accept the terms of use first (GET /v1/auth/terms, then POST /v1/auth/terms "
                                   "with their version): no right holds until then", field="terms")
        if principal.role not in allowed:
            raise Forbidden(f"Role {principal.role!r} may not do this (allowed: {', '.join(sorted(allowed))})")
        return principal

    return _check


# Any role, once nothing is pending (a regulator of the national platform accepts the terms of use first).
SignedInDep = Annotated[Principal, Depends(require_roles(*ROLES))]
AdminDep = Annotated[Principal, Depends(require_roles("admin"))]
EffectorDep = Annotated[Principal, Depends(require_roles("effector", "admin"))]
OperatorDep = Annotated[Principal, Depends(require_roles("operator", "regulator", "admin"))]
RegulatorDep = Annotated[Principal, Depends(require_roles("regulator", "admin"))]
SearcherDep = Annotated[Principal, Depends(require_roles("operator", "regulator", "urgences", "referrer", "admin"))]
ReferrerDep = Annotated[Principal, Depends(require_roles("referrer"))]
AnalystDep = Annotated[Principal, Depends(require_roles("analyst", "admin"))]
StaffDep = Annotated[
    Principal,
    Depends(require_roles("operator", "regulator", "urgences", "referrer", "analyst", "admin", "effector",
                          "coordinator")),
]
