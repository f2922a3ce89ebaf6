"""The users registry (administrators) and the console's sign-in through the identity provider."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from app.auth import terms
from app.auth.dependencies import AdminDep, PrincipalDep, principal_of
from app.auth.registry import forget_registered
from app.http.dependencies import SessionDep, SettingsDep
from app.http.errors import error_response, error_responses
from app.platform.config import Settings
from app.platform.errors import Forbidden, Unauthorized
from app.users import service, signin
from app.users.schemas import (
    SignInConfig,
    SignInRequest,
    SignInToken,
    TermsAccept,
    TermsAccepted,
    TermsRead,
    UserCreate,
    UserRead,
    UserRole,
    UserUpdate,
)

router = APIRouter(prefix="/v1/users", tags=["users"])
signin_router = APIRouter(prefix="/v1/auth", tags=["users"])


@router.post("", status_code=201, response_model=UserRead, operation_id="create_user",
             responses=error_responses(401, 403, 409, 422))
async def create_user(data: UserCreate, session: SessionDep, principal: AdminDep) -> UserRead:
    """Register an identity of the identity provider (its subject, or the RPPS its tokens carry) with its
    role, territories and, for an effector, the practitioner it is (found by RPPS when omitted)."""
    return UserRead.model_validate(await service.create(session, principal, data))


@router.get("", response_model=list[UserRead], operation_id="list_users", responses=error_responses(401, 403, 422))
async def list_users(
    session: SessionDep,
    _: AdminDep,
    role: UserRole | None = None,
    territory: Annotated[str | None, Query(max_length=40)] = None,
    active: bool | None = None,
    q: Annotated[str | None, Query(max_length=200, description="part of the name, or an exact RPPS or subject")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[UserRead]:
    """The registered users, by name."""
    rows = await service.list_(session, role=role, territory=territory, active=active, search=q, limit=limit,
                               offset=offset)
    return [UserRead.model_validate(u) for u in rows]


@router.get("/{user_id}", response_model=UserRead, operation_id="get_user", responses=error_responses(401, 403, 404))
async def get_user(user_id: uuid.UUID, session: SessionDep, _: AdminDep) -> UserRead:
    return UserRead.model_validate(await service.get(session, user_id))


@router.patch("/{user_id}", response_model=UserRead, operation_id="update_user",
              responses=error_responses(401, 403, 404, 409, 422))
async def update_user(user_id: uuid.UUID, data: UserUpdate, session: SessionDep, principal: AdminDep) -> UserRead:
    """Change a user's rights, or disable it (`active: false`): its tokens are refused, and its live streams
    ended, within about a second on every instance (each watches the registry's generation,
    `SNP_REGISTRY_CHECK_SECONDS`)."""
    user = UserRead.model_validate(await service.update(session, principal, user_id, data))
    forget_registered()
    return user


@signin_router.get("/config", response_model=SignInConfig, operation_id="get_sign_in_config",
                   responses=error_responses(503))
async def get_sign_in_config(request: Request, settings: SettingsDep) -> SignInConfig:
    """How the console signs in: the identity provider's authorization endpoint and client (authorization
    code with PKCE), and whether a pasted development token is accepted."""
    return await signin.config(request.app.state, settings)


@signin_router.post("/token", response_model=SignInToken, operation_id="sign_in",
                    responses=error_responses(401, 403, 404, 422, 503))
async def sign_in(data: SignInRequest, request: Request, response: Response, settings: SettingsDep) -> SignInToken:
    """Exchange the authorization code the provider sent back to the console (with the PKCE verifier) for
    the user's token, the client secret staying on the server; refused (403 Unregistered) when the
    registry does not know the identity. The provider's refresh token, if any, is kept in an httpOnly
    cookie (`snp_refresh`, SameSite=Strict, path `/v1/auth`) that JavaScript never reads."""
    grant = await signin.exchange(_checker(request, settings), request.app.state, settings, data)
    _keep(response, request, grant)
    return grant.token


@signin_router.post("/refresh", response_model=SignInToken, operation_id="renew_session",
                    responses=error_responses(401, 403, 404, 503))
async def renew_session(request: Request, response: Response, settings: SettingsDep) -> SignInToken | JSONResponse:
    """A new token for the session signed in through the provider, before the current one expires, from the
    refresh token kept in the `snp_refresh` cookie (no body; 401 naming `refresh_token` when there is none or
    the provider refuses it, 403 when the registry no longer lets the identity in, 404 without a provider)."""
    try:
        grant = await signin.refresh(_checker(request, settings), request.app.state, settings,
                                     request.cookies.get(signin.REFRESH_COOKIE))
    except (Unauthorized, Forbidden) as refused:
        # Refused once, refused for good: sign in again (a provider out of reach keeps the session).
        answer = error_response(request, refused)
        _forget(answer, request)
        return answer
    _keep(response, request, grant)
    return grant.token


@signin_router.post("/sign-out", status_code=204, operation_id="sign_out")
async def sign_out(request: Request, response: Response) -> None:
    """Forget the session's refresh token (the `snp_refresh` cookie); the access token ends by itself."""
    _forget(response, request)


@signin_router.get("/terms", response_model=TermsRead, operation_id="get_terms")
async def get_terms() -> TermsRead:
    """Our terms of use (French, Markdown) and their version, which a regulator the national platform registered
    accepts at his first sign-in: until then his token opens `/v1/me` and these two routes only (403
    `TermsNotAccepted`, field `terms`, elsewhere)."""
    current = terms.current()
    return TermsRead(version=current.version, text=current.text)


@signin_router.post("/terms", response_model=TermsAccepted, operation_id="accept_terms",
                    responses=error_responses(401, 403, 409, 422))
async def accept_terms(data: TermsAccept, session: SessionDep, principal: PrincipalDep) -> TermsAccepted:
    """Accept the terms of use read (`version` from `GET /v1/auth/terms`; 409 when they changed meanwhile):
    the account's rights hold from the next request. The acceptance is audited."""
    user = await service.accept_terms(session, principal, data.version)
    forget_registered()
    return TermsAccepted(version=str(user.terms_version), accepted_at=user.terms_accepted_at or user.updated_at)


def _checker(request: Request, settings: Settings) -> signin.Check:
    """A token the provider gave, checked as every request's is."""
    return lambda token: principal_of(request, token, settings)


def _keep(response: Response, request: Request, grant: signin.Grant) -> None:
    """The refresh token, where only this server's sign-in routes read it (Secure over HTTPS)."""
    if grant.refresh_token is None:
        _forget(response, request)
        return
    response.set_cookie(signin.REFRESH_COOKIE, grant.refresh_token, max_age=grant.refresh_seconds,
                        path=signin.REFRESH_PATH, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


def _forget(response: Response, request: Request) -> None:
    response.delete_cookie(signin.REFRESH_COOKIE, path=signin.REFRESH_PATH, httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")
