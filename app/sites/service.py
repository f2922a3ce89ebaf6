from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.platform.errors import NotFound, Unprocessable
from app.sites import repository
from app.sites.models import Site
from app.sites.schemas import SiteCreate
from app.territories import repository as territory_repository
from app.territories import service as territory_service


async def create(session: AsyncSession, data: SiteCreate) -> Site:
    if await territory_repository.get(session, data.territory_code) is None:
        raise Unprocessable(f"Unknown territory {data.territory_code!r}", field="territory_code")
    site = Site(**data.model_dump())
    session.add(site)
    await session.flush()
    await session.refresh(site)
    return site


async def get(session: AsyncSession, principal: Principal | None, site_id: uuid.UUID) -> Site:
    site = await repository.get(session, site_id)
    if site is None:
        raise NotFound(f"Site {site_id} not found")
    if principal is not None:
        # Every role alike, effectors included: a site of another territory does not exist for you.
        visible = await territory_service.visible_codes(session, principal)
        if visible is not None and site.territory_code not in visible:
            raise NotFound(f"Site {site_id} not found")
    return site


async def list_(
    session: AsyncSession, principal: Principal, *, territory: str | None, limit: int, offset: int
) -> Sequence[Site]:
    scope = await territory_service.visible_codes(session, principal)
    if territory:
        wanted = await territory_repository.with_children(session, [territory])
        scope = wanted if scope is None else wanted & scope
    return await repository.list_(session, territories=scope, limit=limit, offset=offset)
