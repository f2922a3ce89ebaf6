from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.dependencies import AdminDep, StaffDep
from app.http.dependencies import SessionDep
from app.http.errors import error_responses
from app.sites import service
from app.sites.schemas import SiteCreate, SiteRead
from app.territories.schemas import CODE_PATTERN

router = APIRouter(prefix="/v1/sites", tags=["sites"])


@router.post("", status_code=201, response_model=SiteRead, operation_id="create_site",
             responses=error_responses(401, 403, 422))
async def create_site(data: SiteCreate, session: SessionDep, _: AdminDep) -> SiteRead:
    """Register a place where patients are seen (cabinet, MSP, CSNP, centre de santé)."""
    return SiteRead.model_validate(await service.create(session, data))


@router.get("", response_model=list[SiteRead], operation_id="list_sites", responses=error_responses(401, 403))
async def list_sites(
    session: SessionDep,
    principal: StaffDep,
    territory: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[SiteRead]:
    """Sites of the territories you can see (a département includes its CPTS)."""
    rows = await service.list_(session, principal, territory=territory, limit=limit, offset=offset)
    return [SiteRead.model_validate(s) for s in rows]


@router.get("/{site_id:uuid}", response_model=SiteRead, operation_id="get_site",
            responses=error_responses(401, 403, 404))
async def get_site(site_id: uuid.UUID, session: SessionDep, principal: StaffDep) -> SiteRead:
    """One site."""
    return SiteRead.model_validate(await service.get(session, principal, site_id))
