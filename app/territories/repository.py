from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

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


# What is kept of the territories, read on nearly every request and written rarely: the scopes (the codes asked →
# those codes and the CPTS under them: every request of a console asked it of PostgreSQL, a round trip for a set
# that changes when a CPTS is created) and each territory's facts (what a call's entry reads of it). Forgotten
# when a territory is written here (``forget_scopes``) and, on every process, when the registry's generation
# moves (a trigger on ``territories`` bumps it: app/auth/revocation.py's watch, wired in app/workers.py); kept a
# minute at most should the watch stop.
_KEPT: dict[tuple[str, ...], tuple[Any, float]] = {}
SCOPE_SECONDS = 60.0
SCOPES_MAX = 4096


# How many times what is kept was forgotten: a value read before a forgetting (while a territory was being
# written) is not kept after it, or it would outlive the write by a minute.
_FORGOTTEN = [0]


def forget_scopes() -> None:
    _KEPT.clear()
    _FORGOTTEN[0] += 1


def _kept(key: tuple[str, ...]) -> Any:
    kept = _KEPT.get(key)
    return kept[0] if kept is not None and kept[1] > time.monotonic() else None


def _keep(key: tuple[str, ...], value: Any, read_at: int) -> None:
    """Keep ``value``, read when ``_FORGOTTEN`` was ``read_at``, unless it was forgotten meanwhile."""
    if read_at != _FORGOTTEN[0]:
        return
    if len(_KEPT) >= SCOPES_MAX:
        _KEPT.clear()
    _KEPT[key] = (value, time.monotonic() + SCOPE_SECONDS)


async def with_children(session: AsyncSession, codes: Iterable[str]) -> set[str]:
    """The codes themselves and the CPTS under them (a département user sees its CPTS)."""
    key = tuple(sorted(set(codes)))
    if not key:
        return set()
    found = _kept(key)
    if found is None:
        read_at = _FORGOTTEN[0]
        found = frozenset((await session.scalars(text(SCOPE), scope_params(key))).all())
        if found:  # a code that does not exist (yet) is asked again: it may be being created
            _keep(key, found, read_at)
    return set(found)


@dataclass(frozen=True)
class TerritoryFacts:
    """What a call's entry reads of its territory: its kind, its département, its delays, its own postcodes."""

    code: str
    kind: str
    parent_code: str | None
    priority_delays: dict[str, Any]
    postcodes: tuple[str, ...] | None


async def facts(session: AsyncSession, code: str) -> TerritoryFacts | None:
    """The territory's facts (kept as the scopes are), or None when there is no such territory."""
    key = ("facts:", code)  # no territory code has a colon: never a scope's key
    found: TerritoryFacts | None = _kept(key)
    if found is None:
        read_at = _FORGOTTEN[0]
        row = (await session.execute(select(Territory.kind, Territory.parent_code, Territory.priority_delays,
                                            Territory.postcodes).where(Territory.code == code))).first()
        if row is None:
            return None
        found = TerritoryFacts(code=code, kind=row.kind, parent_code=row.parent_code,
                               priority_delays=dict(row.priority_delays or {}),
                               postcodes=tuple(row.postcodes) if row.postcodes is not None else None)
        _keep(key, found, read_at)
    return found


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
