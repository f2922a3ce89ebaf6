"""Territories and the territory scoping every other domain relies on."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.platform.errors import Conflict, NotFound, Unprocessable
from app.territories import repository
from app.territories.models import Territory
from app.territories.schemas import TerritoryCreate, TerritoryUpdate


async def create(session: AsyncSession, data: TerritoryCreate) -> Territory:
    if await repository.get(session, data.code) is not None:
        raise Conflict(f"Territory {data.code} already exists", field="code")
    if data.parent_code:
        parent = await repository.get(session, data.parent_code)
        if parent is None:
            raise Unprocessable(f"Unknown parent territory {data.parent_code}", field="parent_code")
        if parent.kind != "departement":
            raise Unprocessable("A CPTS belongs to a département, not to another CPTS", field="parent_code")
    territory = Territory(
        code=data.code, name=data.name, kind=data.kind, parent_code=data.parent_code, timezone=data.timezone,
        finess=data.finess,
    )
    session.add(territory)
    await session.flush()
    await session.refresh(territory)
    repository.forget_scopes()  # the other processes: within a second (the registry's generation)
    return territory


async def update(session: AsyncSession, code: str, data: TerritoryUpdate) -> Territory:
    territory = await get(session, code)
    for name, value in data.model_dump(exclude_unset=True).items():
        if value is None and name not in ("postcodes", "finess"):
            raise Unprocessable(f"{name} cannot be null", field=name)
        if name == "postcodes" and value is not None:
            value = sorted(set(value))
            unknown = await repository.unknown_postcodes(session, value)
            if unknown:
                index = data.postcodes.index(unknown[0]) if data.postcodes else 0
                raise Unprocessable(f"postcodes: {unknown[0]} is not a French postcode", field=f"postcodes.{index}")
        setattr(territory, name, value)
    await session.flush()
    repository.forget_scopes()
    return territory


async def get(session: AsyncSession, code: str) -> Territory:
    territory = await repository.get(session, code)
    if territory is None:
        raise NotFound(f"Territory {code} not found")
    return territory


async def list_(
    session: AsyncSession, principal: Principal, *, kind: str | None, parent_code: str | None, limit: int,
    offset: int,
) -> Sequence[Territory]:
    visible = await visible_codes(session, principal)
    return await repository.list_(session, kind=kind, parent_code=parent_code, limit=limit, offset=offset,
                                  codes=visible)


async def visible_codes(session: AsyncSession, principal: Principal) -> set[str] | None:
    """Territory codes the principal may act on; ``None`` means all (the platform's administrator, and the
    national SAS platform, which reads every territory's slots)."""
    if principal.is_admin or principal.role == "platform":
        return None
    return await repository.with_children(session, principal.territories)


async def ensure_visible(session: AsyncSession, principal: Principal, code: str) -> Territory:
    """The territory, if the principal may see it; otherwise 404 so existence does not leak."""
    visible = await visible_codes(session, principal)
    if visible is not None and code not in visible:
        raise NotFound(f"Territory {code} not found")
    return await get(session, code)


async def scope_codes(session: AsyncSession, code: str) -> list[str]:
    """A territory and the CPTS under it (what a report or a search of a département covers)."""
    return sorted(await repository.with_children(session, [code]))
