from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.sites.models import Site


async def get(session: AsyncSession, site_id: uuid.UUID) -> Site | None:
    return await session.get(Site, site_id)


async def list_(session: AsyncSession, *, territories: set[str] | None, limit: int, offset: int) -> Sequence[Site]:
    stmt = select(Site).order_by(Site.name, Site.id).limit(limit).offset(offset)
    if territories is not None:
        stmt = stmt.where(Site.territory_code.in_(territories))
    return (await session.scalars(stmt)).all()
