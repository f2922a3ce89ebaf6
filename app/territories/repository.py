from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.territories.models import Territory


async def get(session: AsyncSession, code: str) -> Territory | None:
    return await session.get(Territory, code)


async def list_(
    session: AsyncSession, *, kind: str | None, parent_code: str | None, limit: int, offset: int
) -> Sequence[Territory]:
    stmt = select(Territory).order_by(Territory.code).limit(limit).offset(offset)
    if kind:
        stmt = stmt.where(Territory.kind == kind)
    if parent_code:
        stmt = stmt.where(Territory.parent_code == parent_code)
    return (await session.scalars(stmt)).all()


async def existing_codes(session: AsyncSession, codes: Iterable[str]) -> set[str]:
    codes = list(codes)
    if not codes:
        return set()
    return set((await session.scalars(select(Territory.code).where(Territory.code.in_(codes)))).all())


async def with_children(session: AsyncSession, codes: Iterable[str]) -> set[str]:
    """The codes themselves and the CPTS under them (a département user sees its CPTS)."""
    codes = list(codes)
    if not codes:
        return set()
    stmt = select(Territory.code).where(or_(Territory.code.in_(codes), Territory.parent_code.in_(codes)))
    return set((await session.scalars(stmt)).all())
