from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.auth import AdminDep, Principal, PrincipalDep, require_roles
from app.database import SessionDep
from app.errors import error_responses
from app.practitioners import service
from app.practitioners.schemas import PractitionerCreate, PractitionerRead, WebhookSet
from app.territories.schemas import CODE_PATTERN

router = APIRouter(prefix="/v1/practitioners", tags=["practitioners"])

ReaderDep = Annotated[Principal, Depends(require_roles("admin", "operator", "regulator", "urgences", "effector"))]
SelfEffectorDep = Annotated[Principal, Depends(require_roles("effector"))]


@router.post("", status_code=201, response_model=PractitionerRead, operation_id="create_practitioner",
             responses=error_responses(401, 403, 409, 422))
async def create_practitioner(data: PractitionerCreate, session: SessionDep, _: AdminDep) -> PractitionerRead:
    """Enrol a volunteer doctor (RPPS with its check digit) in one or more territories."""
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
        assert principal.practitioner_id is not None
        return [await service.get(session, principal, principal.practitioner_id)]
    return list(
        await service.list_(session, principal, territory=territory, rpps=rpps, limit=limit, offset=offset)
    )


@router.put("/me/webhook", response_model=PractitionerRead, operation_id="set_my_webhook",
            responses=error_responses(401, 403, 404, 422))
async def set_my_webhook(data: WebhookSet, session: SessionDep, principal: SelfEffectorDep) -> PractitionerRead:
    """Register the URL where booking events are pushed, signed with HMAC-SHA256 of the secret."""
    return await service.set_webhook(session, principal, data)


@router.get("/{practitioner_id:uuid}", response_model=PractitionerRead, operation_id="get_practitioner",
            responses=error_responses(401, 403, 404))
async def get_practitioner(
    practitioner_id: uuid.UUID, session: SessionDep, principal: ReaderDep
) -> PractitionerRead:
    """One practitioner."""
    return await service.get(session, principal, practitioner_id)


__all__ = ["router", "PrincipalDep"]
