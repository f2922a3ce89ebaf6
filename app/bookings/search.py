"""Slot search: the free slots a booker may take, soonest (or nearest, or nearest of each day) first, a page
at a time.

The search statement is one of the few hot statements written as literal SQL; its "free" is the
slots domain's claimability (``slots.repository.CLAIMABLE``) for no call at all.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic_core import to_json
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.bookings.schemas import NearPoint
from app.calls import repository as calls_repository
from app.platform.database import plan_for_the_values, sql
from app.platform.errors import NotFound, Unprocessable
from app.platform.geo import KM_PER_DEGREE_LAT, haversine_km
from app.slots import bookers
from app.slots.repository import BOOKABLE, CLAIMABLE
from app.territories import repository as territory_repository
from app.territories import service as territory_service

# A patient's public → the slot audiences that fit (a child may be seen in a general slot).
AUDIENCES = {"all": ("all",), "children": ("all", "children"), "ehpad": ("all", "ehpad")}

# The orders that need a point: nearest first; nearest among the soonest (by local day, then distance).
DISTANCE_SORTS = ("distance", "soonest_near")

_DISTANCE = haversine_km(":near_lat", ":near_lon", "si.lat", "si.lon")


@dataclass(frozen=True)
class SearchFilter:
    codes: Sequence[str]
    start_from: dt.datetime | None = None
    start_to: dt.datetime | None = None
    mode: str | None = None
    audiences: Sequence[str] | None = None
    profession: str | None = None
    specialty: str | None = None
    language: str | None = None
    site_kind: str | None = None
    near: tuple[float, float] | None = None
    radius_km: float | None = None
    by_distance: bool = False
    # nearest among the soonest: by the local day of the start (in the slot's territory's time zone), then
    # nearest, then soonest (``sort=soonest_near``)
    by_day: bool = False
    after: tuple[dt.datetime, uuid.UUID] | None = None
    offset: int = 0
    limit: int = 20
    # one doctor's slots (his agenda, from the national platform's link), or one slot
    practitioner_id: uuid.UUID | None = None
    slot_id: uuid.UUID | None = None
    # who searches (``bookers.params``): a slot veiled from them is not found
    booker: dict[str, Any] = field(default_factory=lambda: bookers.params("admin", ()))


# ------------------------------------------------------------------------------------------- cursors
#
# A cursor says where the next page starts, in a form the OpenAPI document states (CURSOR_PATTERN), so
# that every cursor the document allows is one the API reads:
# - ``s<microseconds since 1970>.<slot id as 32 hex digits>``: after this slot, soonest first (keyset:
#   stable while slots are booked meanwhile);
# - ``o<n>``: skip the first n slots (nearest first and nearest of each day, where no keyset exists;
#   soonest first too).

CURSOR_PATTERN = r"^(o[0-9]{1,9}|s[0-9]{1,17}\.[0-9a-f]{32})$"
_CURSOR = re.compile(CURSOR_PATTERN)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def encode_after(start: dt.datetime, slot_id: uuid.UUID) -> str:
    micros = (start - _EPOCH) // dt.timedelta(microseconds=1)
    return f"s{micros}.{slot_id.hex}"


def _paging(cursor: str | None, by_distance: bool) -> tuple[tuple[dt.datetime, uuid.UUID] | None, int]:
    """``by_distance``: an order by distance (nearest first, or nearest of each day), paged by count."""
    """(the slot to start after, or the number of slots to skip) that the cursor gives."""
    if cursor is None:
        return None, 0
    if not _CURSOR.match(cursor):
        raise Unprocessable("cursor is not one this API gave (o<n> or s<microseconds>.<slot id>)", field="cursor")
    if cursor[0] == "o":
        return None, int(cursor[1:])
    if by_distance:
        raise Unprocessable("cursor does not fit this sort order: an order by distance pages with o<n>",
                            field="cursor")
    micros, slot_hex = cursor[1:].split(".")
    return (_EPOCH + dt.timedelta(microseconds=int(micros)), uuid.UUID(hex=slot_hex)), 0


# ------------------------------------------------------------------------------------------- checks


def _in_calendar(value: dt.datetime) -> bool:
    try:
        return 1970 <= value.astimezone(dt.UTC).year <= 9998
    except (OverflowError, ValueError):
        return False


def check_search(
    *, start_from: dt.datetime | None, start_to: dt.datetime | None, near_lat: float | None,
    near_lon: float | None, radius_km: float | None, sort: str,
) -> None:
    for name, value in (("start_from", start_from), ("start_to", start_to)):
        if value is not None and not _in_calendar(value):
            raise Unprocessable(f"{name} must lie between the years 1970 and 9999", field=name)
    if start_from is not None and start_to is not None and start_to <= start_from:
        raise Unprocessable("start_to must be after start_from", field="start_to")
    if (near_lat is None) != (near_lon is None):
        raise Unprocessable("near_lat and near_lon go together", field="near_lon" if near_lon is None else "near_lat")
    if radius_km is not None and near_lat is None:
        raise Unprocessable("radius_km needs near_lat and near_lon", field="radius_km")
    if sort in DISTANCE_SORTS and near_lat is None:
        raise Unprocessable(f"sort={sort} needs near_lat and near_lon (or near_postcode, or a call with a postcode)",
                            field="sort")


async def search_scope(session: AsyncSession, principal: Principal, territory: str | None) -> list[str]:
    """The territory codes a search covers: the one asked (with its CPTS), or every one the user sees."""
    if territory:
        # A territory of the token's own is visible without asking; another may be a CPTS under one.
        if not principal.is_admin and territory not in principal.territories and territory not in (
            await territory_service.visible_codes(session, principal) or ()
        ):
            raise NotFound(f"Territory {territory} not found", field="territory")
        codes = await territory_repository.with_children(session, [territory])
        if not codes:
            raise NotFound(f"Territory {territory} not found", field="territory")
        return sorted(codes)
    visible = await territory_service.visible_codes(session, principal)
    if visible is None:
        raise Unprocessable("territory is required for a platform administrator", field="territory")
    return sorted(visible)


# ------------------------------------------------------------------------------------------- search


# Under this age a patient is a child: search then also offers the children's slots.
CHILD_UNDER = 16


@dataclass(frozen=True)
class Patient:
    """What a search takes from the patient's call: where he is and how old (never shown back)."""

    postcode: str | None
    birth_year: int | None


async def _patient(session: AsyncSession, principal: Principal, call_id: uuid.UUID) -> Patient:
    row = await calls_repository.call_place(session, call_id)
    visible = await territory_service.visible_codes(session, principal)
    if row is None or (visible is not None and row["territory_code"] not in visible):
        raise NotFound(f"Call {call_id} not found", field="call_id")
    return Patient(postcode=row["patient_postcode"], birth_year=row["patient_birth_year"])


async def _centroid(session: AsyncSession, postcode: str, field: str) -> tuple[float, float]:
    found = await territory_repository.postcode_centroid(session, postcode)
    if found is None:
        raise Unprocessable(f"{field}: {postcode} is not a French postcode with known coordinates", field=field)
    return found


async def _match(
    session: AsyncSession, principal: Principal, *, call_id: uuid.UUID | None, near_postcode: str | None,
    near_lat: float | None, near_lon: float | None, audience: str | None,
) -> tuple[NearPoint | None, str | None]:
    """Where to search from and for which public: as given, else from the patient's call (its postcode;
    a child under 16 also gets the children's slots)."""
    if near_postcode is not None and (near_lat is not None or near_lon is not None):
        raise Unprocessable("give near_postcode or near_lat and near_lon, not both", field="near_postcode")
    patient = await _patient(session, principal, call_id) if call_id is not None else None
    near = None
    if near_lat is not None and near_lon is not None:
        near = NearPoint(lat=near_lat, lon=near_lon, source="near_lat")
    elif near_postcode is not None:
        lat, lon = await _centroid(session, near_postcode, "near_postcode")
        near = NearPoint(lat=lat, lon=lon, postcode=near_postcode, source="near_postcode")
    elif near_lat is None and near_lon is None and patient is not None and patient.postcode:
        found = await territory_repository.postcode_centroid(session, patient.postcode)
        if found is not None:
            near = NearPoint(lat=found[0], lon=found[1], source="call")  # the patient's postcode is not shown back
    if audience is None and patient is not None and patient.birth_year is not None:
        if dt.date.today().year - patient.birth_year < CHILD_UNDER:
            audience = "children"
    return near, audience


async def search(
    session: AsyncSession, principal: Principal, *, territory: str | None, start_from: dt.datetime | None,
    start_to: dt.datetime | None, mode: str | None, audience: str | None, near_lat: float | None,
    near_lon: float | None, radius_km: float | None, sort: str, limit: int, cursor: str | None,
    near_postcode: str | None = None, call_id: uuid.UUID | None = None, profession: str | None = None,
    specialty: str | None = None, language: str | None = None, site_kind: str | None = None,
    on_primary: Callable[[str, dict[str, Any]], Awaitable[list[Any]]] | None = None,
) -> dict[str, Any]:
    """``on_primary``: where the search statement runs when reads go to the primary (the search's own pool,
    one round trip: ``Reads.on_primary``); without it, in ``session``, planned for its values."""
    near_point, audience = await _match(session, principal, call_id=call_id, near_postcode=near_postcode,
                                        near_lat=near_lat, near_lon=near_lon, audience=audience)
    if near_point is not None and near_point.source != "near_lat":
        near_lat, near_lon = near_point.lat, near_point.lon
    check_search(start_from=start_from, start_to=start_to, near_lat=near_lat, near_lon=near_lon,
                 radius_km=radius_km, sort=sort)
    by_distance = sort in DISTANCE_SORTS
    after, offset = _paging(cursor, by_distance)
    codes = await search_scope(session, principal, territory)
    if not codes:
        return {"items": [], "next_cursor": None, "near": near_point, "audience": audience}
    near = (near_lat, near_lon) if near_lat is not None and near_lon is not None else None
    f = SearchFilter(
        codes=codes, start_from=start_from, start_to=start_to, mode=mode,
        audiences=AUDIENCES[audience] if audience else None, near=near, radius_km=radius_km,
        by_distance=by_distance, by_day=sort == "soonest_near", after=after, offset=offset, limit=limit,
        booker=bookers.params(principal.role, principal.territories), profession=profession, specialty=specialty,
        language=language, site_kind=site_kind,
    )
    statement, params = search_sql(f)
    rows: Sequence[Any]
    if on_primary is not None:
        rows = await on_primary(statement, params)
    else:
        await plan_for_the_values(session)
        rows = (await session.execute(sql(statement), params)).mappings().all()
    items = [_found(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = f"o{offset + limit}" if by_distance else encode_after(last["start_at"], last["id"])
    return {"items": items, "next_cursor": next_cursor, "near": near_point, "audience": audience}


# How many of the doctor's next free slots the agenda of the platform's link offers.
AGENDA_NEXT = 12


async def agenda(session: AsyncSession, principal: Principal, slot_id: uuid.UUID) -> dict[str, Any]:
    """The slot a regulator opened from the national platform's link, whether it is still free for him, and its
    doctor's next free slots (his agenda): what the booking page shows, and offers when the slot was taken
    meanwhile. A slot out of the user's territories is 404, as if it did not exist."""
    visible = await territory_service.visible_codes(session, principal)  # None: every territory (an admin)
    booker = bookers.params(principal.role, principal.territories)
    chosen = (await session.execute(sql(f"""
        SELECT s.id, s.start_at, s.end_at, s.mode, s.territory_code, s.practitioner_id,
               coalesce(t.parent_code, t.code) AS call_territory_code,
               p.id AS p_id, p.rpps, p.family_name, p.given_name, p.profession_code, p.specialty_code, p.languages
        FROM slots s JOIN practitioners p ON p.id = s.practitioner_id JOIN territories t ON t.code = s.territory_code
        WHERE s.id = :slot_id AND (CAST(:everywhere AS boolean) OR s.territory_code = ANY(:codes))
          AND s.status <> 'withdrawn' AND {BOOKABLE}
    """), {"slot_id": slot_id, "everywhere": visible is None, "codes": sorted(visible or ()), **booker})
    ).mappings().first()
    if chosen is None:  # out of his territories, withdrawn, or veiled from him: as if it did not exist
        raise NotFound(f"Slot {slot_id} is not one of your territories' slots", field="slot_id")
    codes = sorted(visible) if visible is not None else [chosen["territory_code"]]
    statement, params = search_sql(SearchFilter(codes=codes, slot_id=slot_id, limit=1, booker=booker))
    free = (await session.execute(sql(statement), params)).mappings().first()
    statement, params = search_sql(SearchFilter(codes=codes, practitioner_id=chosen["practitioner_id"],
                                                limit=AGENDA_NEXT + 1, booker=booker))
    rows = (await session.execute(sql(statement), params)).mappings().all()
    return {
        "chosen": {"id": chosen["id"], "start": chosen["start_at"], "end": chosen["end_at"], "mode": chosen["mode"],
                   "territory_code": chosen["territory_code"], "free": free is not None},
        "slot": _found(free) if free is not None else None,
        "practitioner": {"id": chosen["p_id"], "rpps": chosen["rpps"], "family_name": chosen["family_name"],
                         "given_name": chosen["given_name"], "profession_code": chosen["profession_code"],
                         "specialty_code": chosen["specialty_code"], "languages": chosen["languages"]},
        "call_territory_code": chosen["call_territory_code"],
        "next_slots": [_found(r) for r in rows if r["id"] != slot_id][:AGENDA_NEXT],
    }


def _bounding_box(lat: float, lon: float, radius_km: float) -> dict[str, float]:
    """A lat/lon box around the circle: a cheap prefilter before the exact haversine distance."""
    dlat = radius_km / KM_PER_DEGREE_LAT
    cos_lat = max(math.cos(math.radians(lat)), 0.01)
    dlon = min(radius_km / (KM_PER_DEGREE_LAT * cos_lat), 180.0)
    return {"lat_min": lat - dlat, "lat_max": lat + dlat, "lon_min": lon - dlon, "lon_max": lon + dlon}


def search_sql(f: SearchFilter) -> tuple[str, dict[str, Any]]:
    """The search statement for this filter: the free slots (claimable by no call in particular)."""
    params: dict[str, Any] = {"limit": f.limit + 1, "call_id": None, **f.booker}
    where = [CLAIMABLE]
    if len(f.codes) == 1:
        # A plain equality lets the planner walk ix_slots_free_territory_start in start order.
        where.append("s.territory_code = :code")
        params["code"] = f.codes[0]
    else:
        where.append("s.territory_code = ANY(:codes)")
        params["codes"] = list(f.codes)
    if f.start_from is not None:
        where.append("s.start_at >= :start_from")
        params["start_from"] = f.start_from
    if f.start_to is not None:
        where.append("s.start_at < :start_to")
        params["start_to"] = f.start_to
    if f.practitioner_id is not None:
        where.append("s.practitioner_id = :practitioner_id")
        params["practitioner_id"] = f.practitioner_id
    if f.slot_id is not None:
        where.append("s.id = :slot_id")
        params["slot_id"] = f.slot_id
    if f.mode is not None:
        where.append("s.mode = :mode")
        params["mode"] = f.mode
    if f.audiences is not None:
        where.append("s.audience = ANY(:audiences)")
        params["audiences"] = list(f.audiences)
    for column, value, name in (("p.profession_code", f.profession, "profession"),
                                ("p.specialty_code", f.specialty, "specialty"), ("si.kind", f.site_kind, "site_kind")):
        if value is not None:
            where.append(f"{column} = :{name}")
            params[name] = value
    if f.language is not None:
        where.append("CAST(:language AS varchar) = ANY(p.languages)")
        params["language"] = f.language
    distance = "NULL::float8"
    if f.near is not None:
        distance = _DISTANCE
        params.update(near_lat=f.near[0], near_lon=f.near[1])
        if f.radius_km is not None:
            params.update(_bounding_box(f.near[0], f.near[1], f.radius_km), radius_km=f.radius_km)
            where.append("si.lat BETWEEN :lat_min AND :lat_max AND si.lon BETWEEN :lon_min AND :lon_max")
            where.append(f"{_DISTANCE} <= :radius_km")
    if f.after is not None and not f.by_distance:
        where.append("(s.start_at, s.id) > (:after_start, :after_id)")
        params.update(after_start=f.after[0], after_id=f.after[1])
    order = "distance_km, s.start_at, s.id" if f.by_distance else "s.start_at, s.id"
    day = ""
    if f.by_day:
        day = "JOIN territories t ON t.code = s.territory_code"
        order = "CAST(s.start_at AT TIME ZONE t.timezone AS date), " + order
    statement = f"""
        SELECT s.id, s.start_at, s.end_at, s.mode, s.audience, s.bookable_by, s.release_before, s.territory_code,
               p.id AS practitioner_id, p.rpps, p.family_name, p.given_name, p.profession_code, p.specialty_code,
               p.languages,
               si.id AS site_id, si.name AS site_name, si.kind AS site_kind, si.address, si.postcode,
               si.lat, si.lon, {distance} AS distance_km
        FROM slots s
        JOIN sites si ON si.id = s.site_id
        JOIN practitioners p ON p.id = s.practitioner_id
        {day}
        WHERE {' AND '.join(where)}
        ORDER BY {order}
        LIMIT :limit OFFSET :offset
    """
    params["offset"] = f.offset
    return statement, params


async def explain(session: AsyncSession, f: SearchFilter) -> str:
    statement, params = search_sql(f)
    rows = (await session.execute(sql("EXPLAIN " + statement), params)).scalars().all()
    return "\n".join(rows)


def _found(r: RowMapping) -> dict[str, Any]:
    """A row of our own search statement as a page item: a ``FoundSlot`` in plain data, in its fields'
    order. Not validated again (its columns' types are the schema's, by the tables' own constraints; a
    test holds the page to the schema byte for byte): building three models per item cost a tenth of a
    search's CPU, and nothing a client sent is in it. The ids are written as text here: asyncpg's UUID (a subclass
    of ``uuid.UUID``) costs the inferring serializer about 1 µs each, two thirds of a page's writing, and its text
    is the same."""
    return {
        "id": str(r["id"]), "start": r["start_at"], "end": r["end_at"], "mode": r["mode"], "audience": r["audience"],
        "bookable_by": bookers.names(r["bookable_by"]), "release_before": r["release_before"],
        "territory_code": r["territory_code"],
        "practitioner": {
            "id": str(r["practitioner_id"]), "rpps": r["rpps"], "family_name": r["family_name"],
            "given_name": r["given_name"], "profession_code": r["profession_code"],
            "specialty_code": r["specialty_code"], "languages": r["languages"],
        },
        "site": {
            "id": str(r["site_id"]), "name": r["site_name"], "kind": r["site_kind"], "address": r["address"],
            "postcode": r["postcode"], "lat": r["lat"], "lon": r["lon"],
        },
        "distance_km": round(r["distance_km"], 3) if r["distance_km"] is not None else None,
    }


def page_json(page: dict[str, Any]) -> bytes:
    """The page written as pydantic writes a ``SearchPage`` (same serializer, same bytes), in one step."""
    return to_json(page)
