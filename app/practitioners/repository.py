from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.practitioners.models import Practitioner, PractitionerTerritory


async def get(session: AsyncSession, practitioner_id: uuid.UUID) -> Practitioner | None:
    return await session.get(Practitioner, practitioner_id)


async def by_rpps(session: AsyncSession, rpps: str) -> Practitioner | None:
    return await session.scalar(select(Practitioner).where(Practitioner.rpps == rpps))


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
