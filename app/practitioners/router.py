from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.auth.dependencies import AdminDep, PrincipalDep, require_roles
from app.auth.principal import Principal
from app.http.dependencies import SessionDep, SettingsDep
from app.http.errors import error_responses
from app.practitioners import service
from app.practitioners.schemas import (
    PractitionerAdminSettings,
    PractitionerCreate,
    PractitionerRead,
    PractitionerSettings,
    WebhookSet,
)
from app.territories import repository as territory_repository
from app.territories.schemas import CODE_PATTERN

router = APIRouter(prefix="/v1/practitioners", tags=["practitioners"])

ReaderDep = Annotated[
    Principal, Depends(require_roles("admin", "operator", "regulator", "urgences", "referrer", "effector",
                                     "coordinator"))
]
SelfEffectorDep = Annotated[Principal, Depends(require_roles("effector"))]


@router.post("", status_code=201, response_model=PractitionerRead, operation_id="create_practitioner",
             responses=error_responses(401, 403, 409, 422))
async def create_practitioner(data: PractitionerCreate, session: SessionDep, _: AdminDep) -> PractitionerRead:
    """Enrol a volunteer doctor (RPPS with its check digit; his ADELI number where he has one) in one or
    more territories."""
    return await service.create(session, data)


@router.get("", response_model=list[PractitionerRead], operation_id="list_practitioners",
            responses=error_responses(401, 403, 404))
async def list_practitioners(
    session: SessionDep,
    principal: ReaderDep,
    territory: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
    rpps: Annotated[str | None, Query(pattern=r"^[0-9]{11}$", description="11 digits")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[PractitionerRead]:
    """Practitioners of the territories you can see (an effector sees only itself)."""
    if principal.role == "effector":
        # Only itself, and only when it fits the filters (a filter is never ignored).
        assert principal.practitioner_id is not None
        me = await service.get(session, principal, principal.practitioner_id)
        wanted = await territory_repository.with_children(session, [territory]) if territory else None
        if (rpps is not None and me.rpps != rpps) or (wanted is not None and not wanted & set(me.territory_codes)):
            return []
        return [me][offset:offset + limit]
    return list(
        await service.list_(session, principal, territory=territory, rpps=rpps, limit=limit, offset=offset)
    )


@router.put("/me/webhook", response_model=PractitionerRead, operation_id="set_my_webhook",
            responses=error_responses(401, 403, 404, 422))
async def set_my_webhook(
    data: WebhookSet, session: SessionDep, principal: SelfEffectorDep, settings: SettingsDep
) -> PractitionerRead:
    """Register the https URL where booking events are pushed, signed with HMAC-SHA256 of the secret; a
    private, loopback or link-local target, however spelt, is refused (422). Registering again clears the
    receiver's failures and backoff: its waiting events are sent at the next round."""
    return await service.set_webhook(session, principal, data, settings)


@router.patch("/me", response_model=PractitionerRead, operation_id="update_my_settings",
              responses=error_responses(401, 403, 404, 422))
async def update_my_settings(
    data: PractitionerSettings, session: SessionDep, principal: SelfEffectorDep
) -> PractitionerRead:
    """The effector's own settings, in his view: `accepts_over_capacity` (the regulation may then record
    appointments with him outside his published slots), `languages`, `phone` (where the regulation calls him;
    `null` removes it) and `site_ids`, his own sites (over-capacity appointments are recorded only there; each
    must be a site of a territory he serves, 422 naming `site_ids` otherwise). A field left out is left as it
    is."""
    return await service.update_me(session, principal, data)


@router.patch("/{practitioner_id:uuid}", response_model=PractitionerRead, operation_id="update_practitioner",
              responses=error_responses(401, 403, 404, 409, 422))
async def update_practitioner(
    practitioner_id: uuid.UUID, data: PractitionerAdminSettings, session: SessionDep, principal: AdminDep
) -> PractitionerRead:
    """An administrator sets a practitioner's settings, as he would himself through `PATCH
    /v1/practitioners/me`: `accepts_over_capacity`, `languages`, `phone`, `site_ids` (each a site of a
    territory he serves, 422 naming `site_ids` otherwise); and his `adeli` number, which only an
    administrator sets (`null` removes it; one another practitioner has is 409). A field left out is left
    as it is."""
    return await service.update(session, principal, practitioner_id, data)


@router.get("/{practitioner_id:uuid}", response_model=PractitionerRead, operation_id="get_practitioner",
            responses=error_responses(401, 403, 404))
async def get_practitioner(
    practitioner_id: uuid.UUID, session: SessionDep, principal: ReaderDep
) -> PractitionerRead:
    """One practitioner."""
    return await service.get(session, principal, practitioner_id)


__all__ = ["router", "PrincipalDep"]
