from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.practitioners.models import Practitioner, PractitionerSite, PractitionerTerritory
from app.sites.models import Site
from app.territories.models import Territory


async def get(session: AsyncSession, practitioner_id: uuid.UUID) -> Practitioner | None:
    return await session.get(Practitioner, practitioner_id)


async def by_rpps(session: AsyncSession, rpps: str) -> Practitioner | None:
    return await session.scalar(select(Practitioner).where(Practitioner.rpps == rpps))


async def by_adeli(session: AsyncSession, adeli: str) -> Practitioner | None:
    return await session.scalar(select(Practitioner).where(Practitioner.adeli == adeli))


async def territory_codes(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    out: dict[uuid.UUID, list[str]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = await session.execute(
        select(PractitionerTerritory.practitioner_id, PractitionerTerritory.territory_code)
        .where(PractitionerTerritory.practitioner_id.in_(ids))
        .order_by(PractitionerTerritory.territory_code)
    )
    for pid, code in rows:
        out[pid].append(code)
    return out


async def site_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    out: dict[uuid.UUID, list[uuid.UUID]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = await session.execute(
        select(PractitionerSite.practitioner_id, PractitionerSite.site_id)
        .join(Site, Site.id == PractitionerSite.site_id)
        .where(PractitionerSite.practitioner_id.in_(ids))
        .order_by(Site.name, Site.id)
    )
    for pid, site_id in rows:
        out[pid].append(site_id)
    return out


async def site_places(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, set[str]]:
    """Of each site that exists, the territories serving which serves it: its own and its parent's."""
    rows = await session.execute(
        select(Site.id, Site.territory_code, Territory.parent_code)
        .join(Territory, Territory.code == Site.territory_code)
        .where(Site.id.in_(ids))
    )
    return {site_id: {code} | ({parent} if parent else set()) for site_id, code, parent in rows}


async def set_sites(session: AsyncSession, practitioner_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> None:
    await session.execute(delete(PractitionerSite).where(PractitionerSite.practitioner_id == practitioner_id))
    session.add_all(PractitionerSite(practitioner_id=practitioner_id, site_id=i) for i in ids)
    await session.flush()


async def list_(
    session: AsyncSession, *, territories: set[str] | None, rpps: str | None, limit: int, offset: int
) -> Sequence[Practitioner]:
    stmt = select(Practitioner).order_by(Practitioner.family_name, Practitioner.id).limit(limit).offset(offset)
    if territories is not None:
        stmt = stmt.where(
            Practitioner.id.in_(
                select(PractitionerTerritory.practitioner_id).where(
                    PractitionerTerritory.territory_code.in_(territories)
                )
            )
        )
    if rpps:
        stmt = stmt.where(Practitioner.rpps == rpps)
    return (await session.scalars(stmt)).all()
