"""Every query of the bookings domain: search, the hold and claim compare-and-sets, bookings, idempotency.

The hot paths are SQL first: one statement per state change, guarded by the database.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.database import fetch_row, sql

KM_PER_DEGREE_LAT = 111.045

# Free = not booked, not withdrawn, not started, and not held by anyone (a lapsed hold is no hold).
_FREE = (
    "s.status = 'free' AND s.start_at > now() AND (s.held_until IS NULL OR s.held_until <= now())"
)
_DISTANCE = (
    "(2 * 6371.0088 * asin(least(1.0, sqrt("
    "power(sin(radians(si.lat - :near_lat) / 2), 2) + "
    "cos(radians(:near_lat)) * cos(radians(si.lat)) * power(sin(radians(si.lon - :near_lon) / 2), 2)))))"
)


@dataclass(frozen=True)
class SearchFilter:
    codes: Sequence[str]
    start_from: dt.datetime | None = None
    start_to: dt.datetime | None = None
    mode: str | None = None
    audiences: Sequence[str] | None = None
    near: tuple[float, float] | None = None
    radius_km: float | None = None
    by_distance: bool = False
    after: tuple[dt.datetime, uuid.UUID] | None = None
    offset: int = 0
    limit: int = 20


def _bounding_box(lat: float, lon: float, radius_km: float) -> dict[str, float]:
    """A lat/lon box around the circle: a cheap prefilter before the exact haversine distance."""
    dlat = radius_km / KM_PER_DEGREE_LAT
    cos_lat = max(math.cos(math.radians(lat)), 0.01)
    dlon = min(radius_km / (KM_PER_DEGREE_LAT * cos_lat), 180.0)
    return {"lat_min": lat - dlat, "lat_max": lat + dlat, "lon_min": lon - dlon, "lon_max": lon + dlon}


def _search_sql(f: SearchFilter) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {"limit": f.limit + 1}
    where = [_FREE]
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
    if f.mode is not None:
        where.append("s.mode = :mode")
        params["mode"] = f.mode
    if f.audiences is not None:
        where.append("s.audience = ANY(:audiences)")
        params["audiences"] = list(f.audiences)
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
    statement = f"""
        SELECT s.id, s.start_at, s.end_at, s.mode, s.audience, s.territory_code,
               p.id AS practitioner_id, p.rpps, p.family_name, p.given_name,
               si.id AS site_id, si.name AS site_name, si.kind AS site_kind, si.address, si.postcode,
               si.lat, si.lon, {distance} AS distance_km
        FROM slots s
        JOIN sites si ON si.id = s.site_id
        JOIN practitioners p ON p.id = s.practitioner_id
        WHERE {' AND '.join(where)}
        ORDER BY {order}
        LIMIT :limit OFFSET :offset
    """
    params["offset"] = f.offset if f.by_distance else 0
    return statement, params


_SEARCH_SCOPE = """
    SELECT code FROM territories
    WHERE (code = :territory OR parent_code = :territory)
      AND EXISTS (
        SELECT 1 FROM territories asked
        WHERE asked.code = :territory AND (CAST(:everywhere AS boolean) OR asked.code = ANY(CAST(:mine AS text[]))
              OR asked.parent_code = ANY(CAST(:mine AS text[]))))
    ORDER BY code
"""


async def search_scope(session: AsyncSession, territory: str, mine: list[str] | None) -> list[str]:
    """The territory asked and its CPTS, if the user sees it (``mine`` None: everywhere); else nothing."""
    params = {"territory": territory, "everywhere": mine is None, "mine": mine or []}
    return list((await session.execute(sql(_SEARCH_SCOPE), params)).scalars().all())


async def search(session: AsyncSession, f: SearchFilter) -> Sequence[RowMapping]:
    statement, params = _search_sql(f)
    return (await session.execute(sql(statement), params)).mappings().all()


async def explain_search(session: AsyncSession, f: SearchFilter) -> str:
    statement, params = _search_sql(f)
    rows = (await session.execute(sql("EXPLAIN " + statement), params)).scalars().all()
    return "\n".join(rows)


async def slot_state(session: AsyncSession, slot_id: uuid.UUID) -> RowMapping | None:
    stmt = sql(
        "SELECT id, territory_code, practitioner_id, site_id, status, start_at, end_at, mode, "
        "held_by_call_id, held_until, held_until > now() AS held FROM slots WHERE id = :id"
    )
    return (await session.execute(stmt, {"id": slot_id})).mappings().first()


async def hold(session: AsyncSession, slot_id: uuid.UUID, call_id: uuid.UUID, minutes: int) -> RowMapping | None:
    """Compare-and-set: hold a free, unstarted slot nobody else holds (a lapsed hold counts as none)."""
    stmt = sql(
        "UPDATE slots SET held_by_call_id = :call_id, held_until = now() + make_interval(mins => :minutes) "
        "WHERE id = :id AND status = 'free' AND start_at > now() "
        "AND (held_until IS NULL OR held_until <= now() OR held_by_call_id = :call_id) "
        "RETURNING id AS slot_id, held_by_call_id AS call_id, held_until"
    )
    return (await session.execute(stmt, {"id": slot_id, "call_id": call_id, "minutes": minutes})).mappings().first()


async def release(session: AsyncSession, slot_id: uuid.UUID, call_id: uuid.UUID) -> bool:
    stmt = sql(
        "UPDATE slots SET held_by_call_id = NULL, held_until = NULL "
        "WHERE id = :id AND held_by_call_id = :call_id AND held_until > now() RETURNING id"
    )
    return (await session.execute(stmt, {"id": slot_id, "call_id": call_id})).first() is not None


# The compare-and-set of a booking: free, not started, and not held by another call (a lapsed hold is none).
_CLAIM_SET = "status = 'booked', held_by_call_id = NULL, held_until = NULL"
_CLAIMABLE = (
    "status = 'free' AND start_at > now() "
    "AND (held_until IS NULL OR held_until <= now() OR held_by_call_id = :call_id)"
)
_CLAIMED_COLUMNS = "id, territory_code, practitioner_id, site_id, start_at, end_at, mode"


async def claim(session: AsyncSession, slot_id: uuid.UUID, call_id: uuid.UUID) -> RowMapping | None:
    """Compare-and-set: the slot becomes booked only if it is free, unstarted, and not held by another call."""
    stmt = sql(f"UPDATE slots SET {_CLAIM_SET} WHERE id = :slot_id AND {_CLAIMABLE} RETURNING {_CLAIMED_COLUMNS}")
    return (await session.execute(stmt, {"slot_id": slot_id, "call_id": call_id})).mappings().first()


async def call_state(session: AsyncSession, call_id: uuid.UUID) -> RowMapping | None:
    stmt = sql("SELECT id, territory_code, status FROM calls WHERE id = :id")
    return (await session.execute(stmt, {"id": call_id})).mappings().first()


async def create_urgences_call(
    session: AsyncSession, *, territory_code: str, patient: dict[str, Any], reason: str | None, sub: str
) -> uuid.UUID:
    stmt = sql(
        "INSERT INTO calls (territory_code, channel, received_at, status, source, created_by, reason, "
        "patient_family_name, patient_given_name, patient_birth_year, patient_sex, patient_phone, patient_postcode) "
        "VALUES (:territory_code, 'urgences', now(), 'in_progress', 'live', :sub, :reason, "
        ":family_name, :given_name, :birth_year, :sex, :phone, :postcode) RETURNING id"
    )
    fields = {k: patient.get(k) for k in ("family_name", "given_name", "birth_year", "sex", "phone", "postcode")}
    params = {"territory_code": territory_code, "sub": sub, "reason": reason, **fields}
    return (await session.execute(stmt, params)).scalar_one()


# What the effector is told: when, where, how, why, and who is coming as initials + birth year + sex
# (enough to recognise the patient, never the name or the phone number).
_EVENT_SELECT = """
    SELECT s.practitioner_id, :kind, jsonb_build_object(
        'booking_id', b.id, 'status', b.status, 'slot_id', s.id, 'start', s.start_at, 'end', s.end_at,
        'mode', s.mode, 'territory_code', s.territory_code,
        'site', jsonb_build_object('id', si.id, 'name', si.name, 'address', si.address, 'postcode', si.postcode),
        'call', jsonb_build_object('channel', c.channel, 'reason', c.reason),
        'patient', jsonb_build_object(
            'initials', nullif(upper(concat(left(c.patient_given_name, 1), left(c.patient_family_name, 1))), ''),
            'birth_year', c.patient_birth_year, 'sex', c.patient_sex),
        'booked_at', b.created_at, 'cancelled_at', b.cancelled_at)
    FROM {bookings} b
    JOIN slots s ON s.id = b.slot_id
    JOIN sites si ON si.id = s.site_id
    JOIN calls c ON c.id = b.call_id
"""
_BOOKING_COLUMNS = (
    "id, slot_id, call_id, status, created_by, created_at, cancelled_at, outcome, outcome_note, outcome_at"
)


# The CTEs that turn a claimed slot (a CTE ``claimed`` with its ``id``) into a booking of :call_id: the
# booking ``b``, the call's slot decision, the call in progress and the effector's event.
_BOOKING_WRITES = f"""
    b AS (
        INSERT INTO bookings (slot_id, call_id, created_by) SELECT id, :call_id, :sub FROM claimed
        RETURNING {_BOOKING_COLUMNS}
    ), d AS (
        INSERT INTO decisions (call_id, kind, booking_id, decided_at, created_by)
        SELECT call_id, 'slot', id, now(), :sub FROM b
    ), c AS (
        UPDATE calls SET status = 'in_progress'
        WHERE id = :call_id AND status = 'waiting' AND EXISTS (SELECT 1 FROM b)
    ), e AS (
        INSERT INTO outbox_events (practitioner_id, kind, payload) {_EVENT_SELECT.format(bookings="b")}
    )"""

_INSERT_BOOKING = f"""
    WITH claimed AS (SELECT CAST(:slot_id AS uuid) AS id), {_BOOKING_WRITES}
    SELECT * FROM b
"""


async def insert_booking(session: AsyncSession, *, slot_id: uuid.UUID, call_id: uuid.UUID, sub: str) -> RowMapping:
    """The booking of a slot already claimed, with its decision, call state and event: one statement."""
    params = {"slot_id": slot_id, "call_id": call_id, "sub": sub, "kind": "booking.created"}
    return (await session.execute(sql(_INSERT_BOOKING), params)).mappings().one()


# The territories a booker acts on (``everywhere`` for an admin): those named and the CPTS under them.
_SCOPE = """scope AS (
        SELECT code FROM territories
        WHERE CAST(:everywhere AS boolean) OR code = ANY(CAST(:codes AS text[]))
           OR parent_code = ANY(CAST(:codes AS text[]))
    )"""


# The compare-and-set claim of the slot, in the scope and for the open call found before it.
_CLAIM_IN_SCOPE = f"""claimed AS (
        UPDATE slots SET {_CLAIM_SET}
        WHERE id = :slot_id AND {_CLAIMABLE}
          AND territory_code IN (SELECT code FROM scope)
          AND EXISTS (SELECT 1 FROM open_call)
        RETURNING {_CLAIMED_COLUMNS}
    )"""


def _claim_and_book(with_key: bool) -> str:
    key_cte = (
        "INSERT INTO idempotency_keys (principal_sub, key, request_hash, status_code, response) "
        "VALUES (:sub, :key, :hash, 0, '{}'::jsonb) ON CONFLICT DO NOTHING RETURNING key"
        if with_key else "SELECT 1 AS key"
    )
    return f"""
    WITH k AS ({key_cte}
    ), {_SCOPE}, open_call AS (
        SELECT id FROM calls
        WHERE id = :call_id AND status <> 'closed' AND territory_code IN (SELECT code FROM scope)
          AND EXISTS (SELECT 1 FROM k)
    ), {_CLAIM_IN_SCOPE}, {_BOOKING_WRITES}
    SELECT EXISTS (SELECT 1 FROM k) AS key_claimed, b.*, claimed.territory_code, claimed.practitioner_id,
           claimed.site_id, claimed.start_at, claimed.end_at, claimed.mode
    FROM (SELECT 1) AS one LEFT JOIN (b CROSS JOIN claimed) ON true
"""


_CLAIM_AND_BOOK = {with_key: _claim_and_book(with_key) for with_key in (False, True)}


def _instant(column: str) -> str:
    """A timestamptz written as the API writes instants (pydantic's form): UTC, ``Z``, microseconds if any."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (f"(to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN "
            f"CAST(date_part('microseconds', {utc}) AS bigint) % 1000000 = 0 THEN '' ELSE to_char({utc}, '.US') END"
            " || 'Z')")


# The answer to POST /v1/bookings (BookingRead), field for field, built where the booking is written.
_ANSWER = f"""json_build_object(
    'id', b.id, 'slot_id', b.slot_id, 'call_id', b.call_id, 'status', b.status, 'created_by', b.created_by,
    'created_at', {_instant("b.created_at")}, 'cancelled_at', {_instant("b.cancelled_at")},
    'outcome', b.outcome, 'outcome_note', b.outcome_note, 'outcome_at', {_instant("b.outcome_at")},
    'slot', json_build_object(
        'id', claimed.id, 'start', {_instant("claimed.start_at")}, 'end', {_instant("claimed.end_at")},
        'mode', claimed.mode, 'territory_code', claimed.territory_code,
        'practitioner_id', claimed.practitioner_id, 'site_id', claimed.site_id))"""

# The whole booking of a visible open call, its answer, and (given a key) that answer kept for replays:
# one statement, run on its own (autocommit), so a booking is one round trip to PostgreSQL. The key row
# is inserted only with a booking: a key already used makes the statement fail on its primary key and
# write nothing, and a twin request still running makes it wait for the twin, then fail likewise.
_BOOK_AT_ONCE = f"""
    WITH {_SCOPE}, open_call AS (
        SELECT id FROM calls
        WHERE id = :call_id AND status <> 'closed' AND territory_code IN (SELECT code FROM scope)
    ), {_CLAIM_IN_SCOPE}, {_BOOKING_WRITES}, answer AS (
        SELECT b.id, {_ANSWER} AS body FROM b CROSS JOIN claimed
    ), k AS (
        INSERT INTO idempotency_keys (principal_sub, key, request_hash, status_code, response)
        SELECT :sub, CAST(:key AS text), :hash, 201, CAST(body AS jsonb) FROM answer
        WHERE CAST(:key AS text) IS NOT NULL
    )
    SELECT id, CAST(body AS text) AS body FROM answer
"""
IDEMPOTENCY_KEY_CONSTRAINT = "pk_idempotency_keys"

# Why a booking statement booked nothing, in one read: the key's first answer (a replay), the call,
# the slot, and whether the slot could be claimed for this call now.
_REFUSAL = f"""
    WITH {_SCOPE}
    SELECT k.request_hash, k.status_code, k.response,
           c.id IS NOT NULL AND c.territory_code IN (SELECT code FROM scope) AS call_visible,
           c.status AS call_status,
           s.id IS NOT NULL AND s.territory_code IN (SELECT code FROM scope) AS slot_visible,
           s.status, s.start_at, s.held_until > now() AS held,
           s.status = 'free' AND s.start_at > now()
               AND (s.held_until IS NULL OR s.held_until <= now() OR s.held_by_call_id = :call_id) AS claimable
    FROM (SELECT 1) AS one
    LEFT JOIN idempotency_keys k ON k.principal_sub = :sub AND k.key = CAST(:key AS text)
    LEFT JOIN calls c ON c.id = :call_id
    LEFT JOIN slots s ON s.id = :slot_id
"""


async def refusal(
    connection: AsyncConnection, *, slot_id: uuid.UUID, call_id: uuid.UUID, sub: str,
    territories: list[str] | None, key: str | None,
) -> Any:
    """The facts that explain a refusal (an asyncpg record)."""
    params = {"slot_id": slot_id, "call_id": call_id, "sub": sub, "key": key,
              "everywhere": territories is None, "codes": territories or []}
    return await fetch_row(connection, _REFUSAL, params)


async def book_at_once(
    connection: AsyncConnection, *, slot_id: uuid.UUID, call_id: uuid.UUID, sub: str,
    territories: list[str] | None, key: str | None, digest: str,
) -> Any:
    """Book in one statement (autocommitted outside a transaction): the (id, body) record of the
    booking, or None when nothing was booked."""
    params = {
        "slot_id": slot_id, "call_id": call_id, "sub": sub, "kind": "booking.created",
        "everywhere": territories is None, "codes": territories or [], "key": key, "hash": digest,
    }
    return await fetch_row(connection, _BOOK_AT_ONCE, params)


async def claim_and_book(
    session: AsyncSession, *, slot_id: uuid.UUID, call_id: uuid.UUID, sub: str, territories: list[str] | None,
    key: str | None, digest: str,
) -> RowMapping:
    """The whole booking of a visible, open call in one statement: the Idempotency-Key (when given),
    the claim (compare-and-set), the booking, the call's slot decision, the call in progress and the
    effector's event. ``key_claimed`` false: the key was used before and nothing was written; ``id``
    null: nothing was booked (the key, if any, is claimed for the step-by-step path to finish)."""
    params = {
        "slot_id": slot_id, "call_id": call_id, "sub": sub, "kind": "booking.created",
        "everywhere": territories is None, "codes": territories or [], "key": key, "hash": digest,
    }
    return (await session.execute(sql(_CLAIM_AND_BOOK[key is not None]), params)).mappings().one()


async def insert_event(session: AsyncSession, booking_id: uuid.UUID, kind: str) -> None:
    stmt = sql(
        "INSERT INTO outbox_events (practitioner_id, kind, payload) "
        + _EVENT_SELECT.format(bookings="bookings") + " WHERE b.id = :booking_id"
    )
    await session.execute(stmt, {"booking_id": booking_id, "kind": kind})


async def booking_with_slot(session: AsyncSession, booking_id: uuid.UUID) -> RowMapping | None:
    stmt = sql(
        "SELECT b.id, b.slot_id, b.call_id, b.status, b.created_by, b.created_at, b.cancelled_at, b.outcome, "
        "b.outcome_note, b.outcome_at, s.start_at, s.end_at, s.mode, s.territory_code, s.practitioner_id, "
        "s.site_id, s.start_at <= now() AS started FROM bookings b JOIN slots s ON s.id = b.slot_id WHERE b.id = :id"
    )
    return (await session.execute(stmt, {"id": booking_id})).mappings().first()


async def cancel(session: AsyncSession, booking_id: uuid.UUID, sub: str) -> RowMapping | None:
    """Cancel an active booking without outcome; its slot is free again if it has not started."""
    stmt = sql("""
        WITH b AS (
            UPDATE bookings SET status = 'cancelled', cancelled_at = now(), cancelled_by = :sub
            WHERE id = :id AND status = 'active' AND outcome IS NULL
            RETURNING id, slot_id
        ), s AS (
            UPDATE slots SET status = 'free' FROM b
            WHERE slots.id = b.slot_id AND slots.status = 'booked' AND slots.start_at > now()
            RETURNING slots.id
        )
        SELECT b.id, (SELECT count(*) FROM s) AS freed FROM b
    """)
    return (await session.execute(stmt, {"id": booking_id, "sub": sub})).mappings().first()


async def set_outcome(
    session: AsyncSession, booking_id: uuid.UUID, practitioner_id: uuid.UUID, status: str, note: str | None
) -> bool:
    """Once, by the slot's effector, after the slot's start, on an active booking."""
    stmt = sql(
        "UPDATE bookings b SET outcome = :status, outcome_note = :note, outcome_at = now() FROM slots s "
        "WHERE b.id = :id AND s.id = b.slot_id AND s.practitioner_id = :pid AND b.status = 'active' "
        "AND b.outcome IS NULL AND s.start_at <= now() RETURNING b.id"
    )
    params = {"id": booking_id, "pid": practitioner_id, "status": status, "note": note}
    return (await session.execute(stmt, params)).first() is not None


async def claim_idempotency_key(session: AsyncSession, sub: str, key: str, request_hash: str) -> bool:
    """True when this request owns the key; a concurrent twin waits here until the owner commits."""
    stmt = sql(
        "INSERT INTO idempotency_keys (principal_sub, key, request_hash, status_code, response) "
        "VALUES (:sub, :key, :hash, 0, '{}'::jsonb) ON CONFLICT DO NOTHING RETURNING key"
    )
    return (await session.execute(stmt, {"sub": sub, "key": key, "hash": request_hash})).first() is not None


async def stored_answer(session: AsyncSession, sub: str, key: str) -> RowMapping | None:
    stmt = sql(
        "SELECT request_hash, status_code, response FROM idempotency_keys WHERE principal_sub = :sub AND key = :key"
    )
    return (await session.execute(stmt, {"sub": sub, "key": key})).mappings().first()


async def store_answer(session: AsyncSession, sub: str, key: str, status_code: int, response: str) -> None:
    stmt = sql(
        "UPDATE idempotency_keys SET status_code = :status, response = CAST(:response AS jsonb) "
        "WHERE principal_sub = :sub AND key = :key"
    )
    await session.execute(stmt, {"sub": sub, "key": key, "status": status_code, "response": response})
