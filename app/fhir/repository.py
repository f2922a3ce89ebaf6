"""The queries of the FHIR facade: the free slots of practitioners named by RPPS or ADELI, with what the
guide's includes need (schedule, practitioner, role and site, CPTS); and what the bulk publication
(app/fhir/bulk.py) is built from."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.slots.repository import CLAIMABLE
from app.territories.repository import SCOPE

# Everything a Slot and its included resources are built from (app/fhir/resources.py).
_COLUMNS = """s.id, s.start_at, s.end_at, s.mode, s.bookable_by, s.territory_code, s.practitioner_id, s.site_id,
       p.rpps, p.adeli, p.family_name, p.given_name, p.specialty_code,
       si.name AS site_name, si.address AS site_address, si.postcode AS site_postcode, si.lat AS site_lat,
       si.lon AS site_lon, split_part(pc.communes, '|', 1) AS site_city,
       t.kind AS territory_kind, t.name AS territory_name, t.finess"""
_JOINS = """FROM slots s
    JOIN practitioners p ON p.id = s.practitioner_id
    JOIN sites si ON si.id = s.site_id
    JOIN territories t ON t.code = s.territory_code
    LEFT JOIN postcodes pc ON pc.postcode = si.postcode"""

# The slots a search matches: free (claimable by this booker, for no call in particular), of these
# practitioners, starting in the window, in the territories the user sees. Its page and its total both
# read it.
_MATCHING = f"""(p.rpps = ANY(CAST(:rpps AS text[])) OR p.adeli = ANY(CAST(:adeli AS text[]))) AND {CLAIMABLE}
  AND s.territory_code IN (SELECT code FROM scope)
  AND (CAST(:ge AS timestamptz) IS NULL OR s.start_at >= CAST(:ge AS timestamptz))
  AND (CAST(:le AS timestamptz) IS NULL OR s.start_at <= CAST(:le AS timestamptz))"""

# Soonest first, a page at a time.
SEARCH = f"""
WITH scope AS ({SCOPE})
SELECT {_COLUMNS}
{_JOINS}
WHERE {_MATCHING}
ORDER BY s.start_at, s.id
LIMIT :limit OFFSET :offset
"""

COUNT = f"""
WITH scope AS ({SCOPE})
SELECT count(*)
FROM slots s JOIN practitioners p ON p.id = s.practitioner_id
WHERE {_MATCHING}
"""

ONE_SLOT = f"""
WITH scope AS ({SCOPE})
SELECT {_COLUMNS}
{_JOINS}
WHERE s.id = :slot_id AND {CLAIMABLE} AND s.territory_code IN (SELECT code FROM scope)
"""

# A doctor at a site, where he has (or had) a slot in a territory the user sees.
ROLE = f"""
WITH scope AS ({SCOPE})
SELECT p.id AS practitioner_id, p.rpps, p.family_name, p.given_name, si.id AS site_id, si.name AS site_name,
       si.address AS site_address, si.postcode AS site_postcode, si.lat AS site_lat, si.lon AS site_lon,
       split_part(pc.communes, '|', 1) AS site_city
FROM practitioners p JOIN sites si ON si.id = :site_id
LEFT JOIN postcodes pc ON pc.postcode = si.postcode
WHERE p.id = :practitioner_id AND si.territory_code IN (SELECT code FROM scope)
  AND EXISTS (SELECT 1 FROM slots s WHERE s.practitioner_id = p.id AND s.site_id = si.id)
"""

# A CPTS whose FINESS is known (its HealthcareService and Organization), if the user sees it.
CPTS = f"""
WITH scope AS ({SCOPE})
SELECT t.code AS territory_code, t.name AS territory_name, t.finess
FROM territories t
WHERE t.code = :code AND t.kind = 'cpts' AND t.finess IS NOT NULL AND t.code IN (SELECT code FROM scope)
"""

# The Schedules (a doctor at a site) of a practitioner named by id or by RPPS / ADELI (both lists None:
# any), or of one PractitionerRole: where he has (or had) a slot, at a site of a territory the user sees.
SCHEDULES = f"""
WITH scope AS ({SCOPE})
SELECT DISTINCT s.practitioner_id, s.site_id
FROM slots s
JOIN practitioners p ON p.id = s.practitioner_id
JOIN sites si ON si.id = s.site_id
WHERE si.territory_code IN (SELECT code FROM scope)
  AND (CAST(:rpps AS text[]) IS NULL OR p.rpps = ANY(CAST(:rpps AS text[])) OR p.adeli = ANY(CAST(:adeli AS text[])))
  AND (CAST(:practitioner_id AS uuid) IS NULL OR s.practitioner_id = CAST(:practitioner_id AS uuid))
  AND (CAST(:site_id AS uuid) IS NULL OR s.site_id = CAST(:site_id AS uuid))
ORDER BY s.practitioner_id, s.site_id
LIMIT 1000
"""

PRACTITIONERS = f"""
WITH scope AS ({SCOPE})
SELECT p.id AS practitioner_id, p.rpps, p.adeli, p.family_name, p.given_name
FROM practitioners p
WHERE (CAST(:rpps AS text[]) IS NULL OR p.rpps = ANY(CAST(:rpps AS text[])) OR p.adeli = ANY(CAST(:adeli AS text[])))
  AND (CAST(:practitioner_id AS uuid) IS NULL OR p.id = CAST(:practitioner_id AS uuid))
  AND EXISTS (SELECT 1 FROM practitioner_territories pt
              WHERE pt.practitioner_id = p.id AND pt.territory_code IN (SELECT code FROM scope))
ORDER BY p.rpps
LIMIT 1000
"""

# The slots of a bulk publication: published or booked, within the horizon, that these bookers may
# book, in these territories (None: every one), each with its site (its city from La Poste's list) and
# its département.
PUBLISHED = """
SELECT s.id, s.start_at, s.end_at, s.mode, s.status, s.site_id, si.name, si.address, si.postcode, si.lat,
       si.lon, si.phone, split_part(pc.communes, '|', 1) AS city, coalesce(t.parent_code, t.code) AS departement
FROM slots s
JOIN sites si ON si.id = s.site_id
JOIN territories t ON t.code = s.territory_code
LEFT JOIN postcodes pc ON pc.postcode = si.postcode
WHERE s.status IN ('free', 'booked') AND NOT s.over_capacity AND s.kind = 'snp'
  AND s.start_at > now() AND s.start_at < now() + make_interval(days => :horizon_days)
  AND (s.bookable_by & :bookers) <> 0
  AND (CAST(:codes AS text[]) IS NULL OR s.territory_code = ANY(CAST(:codes AS text[])))
ORDER BY departement, s.start_at, s.id
"""

# The départements of these territories (None: every département); a CPTS's is its parent's.
DEPARTEMENTS = """
SELECT DISTINCT coalesce(parent_code, code) FROM territories
WHERE CAST(:codes AS text[]) IS NULL AND kind = 'departement' OR code = ANY(CAST(:codes AS text[]))
"""


async def search(
    session: AsyncSession, *, rpps: list[str], adeli: list[str], ge: dt.datetime | None, le: dt.datetime | None,
    limit: int, offset: int, scope: dict[str, Any], booker: dict[str, Any],
) -> list[RowMapping]:
    params = {"rpps": rpps, "adeli": adeli, "ge": ge, "le": le, "limit": limit, "offset": offset, "call_id": None,
              **scope, **booker}
    return list((await session.execute(text(SEARCH), params)).mappings().all())


async def count(
    session: AsyncSession, *, rpps: list[str], adeli: list[str], ge: dt.datetime | None, le: dt.datetime | None,
    scope: dict[str, Any], booker: dict[str, Any],
) -> int:
    params = {"rpps": rpps, "adeli": adeli, "ge": ge, "le": le, "call_id": None, **scope, **booker}
    return int((await session.execute(text(COUNT), params)).scalar_one())


async def slot(session: AsyncSession, slot_id: uuid.UUID, scope: dict[str, Any],
               booker: dict[str, Any]) -> RowMapping | None:
    params = {"slot_id": slot_id, "call_id": None, **scope, **booker}
    return (await session.execute(text(ONE_SLOT), params)).mappings().first()


async def role(session: AsyncSession, practitioner_id: uuid.UUID, site_id: uuid.UUID,
               scope: dict[str, Any]) -> RowMapping | None:
    params = {"practitioner_id": practitioner_id, "site_id": site_id, **scope}
    return (await session.execute(text(ROLE), params)).mappings().first()


async def cpts(session: AsyncSession, code: str, scope: dict[str, Any]) -> RowMapping | None:
    return (await session.execute(text(CPTS), {"code": code, **scope})).mappings().first()


async def schedules(session: AsyncSession, *, rpps: list[str] | None, adeli: list[str] | None,
                    practitioner_id: uuid.UUID | None, site_id: uuid.UUID | None,
                    scope: dict[str, Any]) -> list[RowMapping]:
    params = {"rpps": rpps, "adeli": adeli, "practitioner_id": practitioner_id, "site_id": site_id, **scope}
    return list((await session.execute(text(SCHEDULES), params)).mappings().all())


async def practitioners(session: AsyncSession, *, rpps: list[str] | None, adeli: list[str] | None,
                        practitioner_id: uuid.UUID | None, scope: dict[str, Any]) -> list[RowMapping]:
    """By national ids (``rpps`` and ``adeli`` both None: any), or by id, in the user's territories."""
    params = {"rpps": rpps, "adeli": adeli, "practitioner_id": practitioner_id, **scope}
    return list((await session.execute(text(PRACTITIONERS), params)).mappings().all())


async def practitioner_of_booking(session: AsyncSession, booking_id: uuid.UUID) -> uuid.UUID | None:
    """The practitioner whose slot a booking holds."""
    return await session.scalar(text("SELECT s.practitioner_id FROM bookings b JOIN slots s ON s.id = b.slot_id "
                                     "WHERE b.id = :id"), {"id": booking_id})


async def published(session: AsyncSession, *, codes: list[str] | None, bookers: int,
                    horizon_days: int) -> list[RowMapping]:
    params = {"codes": codes, "bookers": bookers, "horizon_days": horizon_days}
    return list((await session.execute(text(PUBLISHED), params)).mappings().all())


async def departements(session: AsyncSession, codes: list[str] | None) -> list[str]:
    """Sorted."""
    return sorted((await session.scalars(text(DEPARTEMENTS), {"codes": codes})).all())
