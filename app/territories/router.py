from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from app.auth.dependencies import AdminDep, SignedInDep
from app.http.dependencies import SessionDep
from app.http.errors import error_responses
from app.territories import service
from app.territories.schemas import TerritoryCreate, TerritoryRead, TerritoryUpdate

router = APIRouter(prefix="/v1/territories", tags=["territories"])


@router.post(
    "", status_code=201, response_model=TerritoryRead, operation_id="create_territory",
    responses=error_responses(401, 403, 409, 422),
)
async def create_territory(data: TerritoryCreate, session: SessionDep, _: AdminDep) -> TerritoryRead:
    """Create a département or a CPTS (under its département) with its IANA time zone."""
    return TerritoryRead.model_validate(await service.create(session, data))


@router.get("", response_model=list[TerritoryRead], operation_id="list_territories",
            responses=error_responses(401))
async def list_territories(
    session: SessionDep,
    principal: SignedInDep,
    kind: Literal["departement", "cpts"] | None = None,
    parent: Annotated[str | None, Query(description="CPTS of this département")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[TerritoryRead]:
    """The territories you act on (yours and the CPTS under them; every one for an administrator)."""
    rows = await service.list_(session, principal, kind=kind, parent_code=parent, limit=limit, offset=offset)
    return [TerritoryRead.model_validate(t) for t in rows]


@router.get("/{code}", response_model=TerritoryRead, operation_id="get_territory",
            responses=error_responses(401, 404))
async def get_territory(code: str, session: SessionDep, principal: SignedInDep) -> TerritoryRead:
    """One territory you act on, with its settings (priority delays, avoided-ED estimator)."""
    return TerritoryRead.model_validate(await service.ensure_visible(session, principal, code))


@router.patch("/{code}", response_model=TerritoryRead, operation_id="update_territory",
              responses=error_responses(401, 403, 404, 422))
async def update_territory(
    code: str, data: TerritoryUpdate, session: SessionDep, _: AdminDep
) -> TerritoryRead:
    """Change a territory's name, time zone, callback targets or avoided-ED estimator."""
    return TerritoryRead.model_validate(await service.update(session, code, data))
