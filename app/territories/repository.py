from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.territories.models import Postcode, Territory

# The one definition of "the territories a user acts on": those named (``:codes``) and the CPTS under
# them; every territory when ``:everywhere`` (a platform administrator). Statements embed it as a CTE
# or a subquery (``territory_code IN (SELECT code FROM scope)``).
SCOPE = """SELECT code FROM territories
        WHERE CAST(:everywhere AS boolean) OR code = ANY(CAST(:codes AS text[]))
           OR parent_code = ANY(CAST(:codes AS text[]))"""


def scope_params(codes: Iterable[str] | None) -> dict[str, object]:
    """The parameters of ``SCOPE``: ``None`` means every territory."""
    return {"everywhere": codes is None, "codes": list(codes or [])}


async def get(session: AsyncSession, code: str) -> Territory | None:
    return await session.get(Territory, code)


async def list_(
    session: AsyncSession, *, kind: str | None, parent_code: str | None, limit: int, offset: int,
    codes: set[str] | None = None,
) -> Sequence[Territory]:
    """Territories, among ``codes`` (None: all)."""
    stmt = select(Territory).order_by(Territory.code).limit(limit).offset(offset)
    if codes is not None:
        stmt = stmt.where(Territory.code.in_(codes))
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
    return set((await session.scalars(text(SCOPE), scope_params(codes))).all())


async def postcode_centroid(session: AsyncSession, postcode: str) -> tuple[float, float] | None:
    """The centroid of the postcode's communes (La Poste), if known."""
    row = (await session.execute(
        select(Postcode.lat, Postcode.lon).where(Postcode.postcode == postcode, Postcode.lat.is_not(None))
    )).first()
    if row is None or row.lat is None or row.lon is None:
        return None
    return float(row.lat), float(row.lon)



async def unknown_postcodes(session: AsyncSession, postcodes: Sequence[str]) -> list[str]:
    """Those of ``postcodes`` La Poste does not know."""
    known = set((await session.execute(select(Postcode.postcode).where(Postcode.postcode.in_(list(postcodes)))))
                .scalars())
    return [p for p in postcodes if p not in known]


async def postcode_in_departement(session: AsyncSession, postcode: str, departement: str) -> tuple[bool, bool, bool]:
    """Whether La Poste knows ``postcode``, places it in ``departement``, and places any postcode there — in
    one statement, without reading the département's list."""
    known = select(Postcode.postcode).where(Postcode.postcode == postcode)
    row = (await session.execute(select(
        known.exists(),
        known.where(Postcode.departements.contains([departement])).exists(),
        select(Postcode.postcode).where(Postcode.departements.contains([departement])).exists(),
    ))).one()
    return bool(row[0]), bool(row[1]), bool(row[2])


async def area_postcodes(session: AsyncSession, territory: Territory) -> list[str]:
    """The postcodes a territory serves: a CPTS's own list, or those La Poste places in a département."""
    if territory.kind == "cpts":
        return list(territory.postcodes or [])
    stmt = select(Postcode.postcode).where(Postcode.departements.contains([territory.code]))
    return list((await session.execute(stmt)).scalars())
