"""Every query of the MT queue. The offer-is-open and publics-fit predicates are written once here (the fit rule
is app/mt/schemas.py's ``fits``) and embedded in the few literal statements that need them."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select, text, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.mt.models import MtOffer, MtProposal, MtRequest
from app.platform.geo import haversine_km
from app.slots.repository import ACCESS_TAKEABLE

# An offer open on :today (the territory's date).
OPEN_OFFER = "o.accepting AND (o.until IS NULL OR o.until >= :today)"
# A doctor's publics fit the patient's (:publics): anyone, or at least one of them.
FITS = "('any' = ANY(o.publics) OR o.publics && CAST(:publics AS varchar[]))"
# An offer's sites within the territories :codes.
OFFER_SITES = "s.id = ANY(o.site_ids) AND s.territory_code = ANY(CAST(:codes AS varchar[]))"

DOCTORS = f"""
SELECT o.practitioner_id, p.family_name, p.given_name, p.specialty, o.publics, o.per_month, o.until,
       o.public_listing, o.site_ids, coalesce(c.taken, 0) AS taken
FROM mt_offers o
JOIN practitioners p ON p.id = o.practitioner_id
LEFT JOIN mt_capacity c ON c.practitioner_id = o.practitioner_id AND c.month = :month
WHERE {OPEN_OFFER} AND (o.public_listing OR NOT :public_only)
  AND EXISTS (SELECT 1 FROM sites s WHERE {OFFER_SITES})
ORDER BY p.family_name, p.given_name, o.practitioner_id
LIMIT :limit OFFSET :offset"""

CANDIDATES = f"""
SELECT o.practitioner_id, p.family_name, p.given_name, o.publics, o.per_month - coalesce(c.taken, 0) AS capacity_left,
       s.id AS site_id, s.name AS site_name, s.address, s.postcode, s.lat, s.lon, s.km AS distance_km
FROM mt_offers o
JOIN practitioners p ON p.id = o.practitioner_id
LEFT JOIN mt_capacity c ON c.practitioner_id = o.practitioner_id AND c.month = :month
CROSS JOIN LATERAL (
    SELECT s.id, s.name, s.address, s.postcode, s.lat, s.lon,
           {haversine_km("CAST(:lat AS float8)", "CAST(:lon AS float8)", "s.lat", "s.lon")} AS km
    FROM sites s WHERE {OFFER_SITES}
    ORDER BY km NULLS LAST, s.name LIMIT 1) s
WHERE {OPEN_OFFER} AND {FITS} AND o.per_month > coalesce(c.taken, 0)
  AND (CAST(:practitioner AS uuid) IS NULL OR o.practitioner_id = CAST(:practitioner AS uuid))
  AND NOT EXISTS (SELECT 1 FROM mt_proposals x WHERE x.request_id = :request
                  AND x.practitioner_id = o.practitioner_id AND x.state IN ('pending', 'refused'))
ORDER BY s.km NULLS LAST, p.family_name, p.given_name, o.practitioner_id
LIMIT :limit"""

# One more new patient this month, never past the offer's per_month (the offer's row is locked first).
TAKE_ONE = """
INSERT INTO mt_capacity (practitioner_id, month, taken)
SELECT :practitioner, :month, 1 WHERE :per_month >= 1
ON CONFLICT (practitioner_id, month) DO UPDATE SET taken = mt_capacity.taken + 1
    WHERE mt_capacity.taken < :per_month
RETURNING taken"""

PURGE = """
UPDATE mt_requests SET patient_family_name = NULL, patient_given_name = NULL, patient_phone = NULL,
    patient_address = NULL, patient_email = NULL, patient_postcode = NULL, note = NULL,
    priority_adjusted_reason = NULL, purged_at = now()
WHERE purged_at IS NULL AND ended_at IS NOT NULL AND ended_at < :cutoff AND state IN ('found', 'closed')"""


async def offer(session: AsyncSession, practitioner_id: uuid.UUID, *, lock: bool = False) -> MtOffer | None:
    stmt = select(MtOffer).where(MtOffer.practitioner_id == practitioner_id)
    if lock:
        stmt = stmt.with_for_update()
    found: MtOffer | None = await session.scalar(stmt)
    return found


async def taken(session: AsyncSession, practitioner_id: uuid.UUID, month: dt.date) -> int:
    value = await session.scalar(text("SELECT taken FROM mt_capacity WHERE practitioner_id = :p AND month = :m"),
                                 {"p": practitioner_id, "m": month})
    return int(value or 0)


async def take_one(session: AsyncSession, practitioner_id: uuid.UUID, month: dt.date, per_month: int) -> bool:
    row = (await session.execute(text(TAKE_ONE), {"practitioner": practitioner_id, "month": month,
                                                  "per_month": per_month})).first()
    return row is not None


async def doctors(session: AsyncSession, *, codes: Sequence[str], today: dt.date, public_only: bool, limit: int,
                  offset: int) -> Sequence[Any]:
    return (await session.execute(text(DOCTORS), {
        "codes": list(codes), "today": today, "month": today.replace(day=1), "public_only": public_only,
        "limit": limit, "offset": offset})).mappings().all()


async def sites_in(session: AsyncSession, ids: Sequence[uuid.UUID], codes: Sequence[str]) -> Sequence[Any]:
    return (await session.execute(text(
        "SELECT id, name, address, postcode, lat, lon FROM sites "
        "WHERE id = ANY(CAST(:ids AS uuid[])) AND territory_code = ANY(CAST(:codes AS varchar[])) ORDER BY name, id"),
        {"ids": list(ids), "codes": list(codes)})).mappings().all()


async def candidates(
    session: AsyncSession, *, codes: Sequence[str], today: dt.date, publics: Sequence[str],
    centroid: tuple[float, float] | None, request: uuid.UUID, practitioner: uuid.UUID | None = None, limit: int = 50,
) -> Sequence[Any]:
    lat, lon = centroid if centroid else (None, None)
    return (await session.execute(text(CANDIDATES), {
        "codes": list(codes), "today": today, "month": today.replace(day=1), "publics": list(publics),
        "lat": lat, "lon": lon, "practitioner": practitioner, "request": request, "limit": limit,
    })).mappings().all()


async def site_timezone(session: AsyncSession, site_id: uuid.UUID) -> str | None:
    zone = await session.scalar(text(
        "SELECT t.timezone FROM sites s JOIN territories t ON t.code = s.territory_code WHERE s.id = :s"),
        {"s": site_id})
    return None if zone is None else str(zone)


def scope(principal: Principal, codes: set[str] | None) -> ColumnElement[bool]:
    """The requests a principal sees: those of his territories; a referrer only what he sent, an effector what he
    sent and what was proposed to him, the regulation (operators, regulators) what the regulation entered — never
    a patient's own request, an import or another professional's (the patient is told only the coordination and
    the doctor who accepts him read it)."""
    walled: ColumnElement[bool] = true() if codes is None else MtRequest.territory_code.in_(sorted(codes))
    if principal.role == "referrer":
        return and_(walled, MtRequest.created_by == principal.sub)
    if principal.role in ("operator", "regulator"):
        return and_(walled, MtRequest.source == "regulation")
    if principal.role == "effector":
        proposed = false() if principal.practitioner_id is None else exists().where(
            MtProposal.request_id == MtRequest.id, MtProposal.practitioner_id == principal.practitioner_id)
        return and_(walled, or_(MtRequest.created_by == principal.sub, proposed))
    return walled


async def get(session: AsyncSession, request_id: uuid.UUID, visible: ColumnElement[bool], *,
              lock: bool = False) -> MtRequest | None:
    stmt = select(MtRequest).where(MtRequest.id == request_id, visible)
    if lock:
        stmt = stmt.with_for_update()
    found: MtRequest | None = await session.scalar(stmt)
    return found


async def list_(session: AsyncSession, visible: ColumnElement[bool], *, territories: set[str] | None,
                state: str | None, priority: str | None, limit: int, offset: int) -> Sequence[MtRequest]:
    order = text("array_position(ARRAY['high', 'medium', 'normal']::varchar[], mt_requests.priority)")
    stmt = select(MtRequest).where(visible).order_by(order, MtRequest.created_at, MtRequest.id)
    if territories is not None:
        stmt = stmt.where(MtRequest.territory_code.in_(sorted(territories)))
    if state:
        stmt = stmt.where(MtRequest.state == state)
    if priority:
        stmt = stmt.where(MtRequest.priority == priority)
    return (await session.scalars(stmt.limit(limit).offset(offset))).all()


async def counts(session: AsyncSession, visible: ColumnElement[bool], *,
                 territories: set[str] | None) -> dict[str, int]:
    """How many requests of each state the principal sees (numbers only: no row of a patient is read)."""
    stmt = select(MtRequest.state, func.count()).where(visible).group_by(MtRequest.state)
    if territories is not None:
        stmt = stmt.where(MtRequest.territory_code.in_(sorted(territories)))
    return {str(state): int(n) for state, n in (await session.execute(stmt)).all()}


async def proposal_names(session: AsyncSession, request_id: uuid.UUID) -> dict[uuid.UUID, dict[str, Any]]:
    """The doctor's names and his site's of each proposal of a request (family_name, given_name, site_name), by the
    proposal's id."""
    rows = (await session.execute(text(
        "SELECT x.id, p.family_name, p.given_name, s.name AS site_name FROM mt_proposals x "
        "JOIN practitioners p ON p.id = x.practitioner_id LEFT JOIN sites s ON s.id = x.site_id "
        "WHERE x.request_id = :r"), {"r": request_id})).mappings().all()
    return {row["id"]: {k: row[k] for k in ("family_name", "given_name", "site_name")} for row in rows}


async def proposals_of(session: AsyncSession, request_id: uuid.UUID) -> Sequence[MtProposal]:
    return (await session.scalars(select(MtProposal).where(MtProposal.request_id == request_id)
                                  .order_by(MtProposal.created_at, MtProposal.id))).all()


async def proposal(session: AsyncSession, proposal_id: uuid.UUID, *, lock: bool = False) -> MtProposal | None:
    stmt = select(MtProposal).where(MtProposal.id == proposal_id)
    if lock:
        stmt = stmt.with_for_update()
    found: MtProposal | None = await session.scalar(stmt)
    return found


async def pending_count(session: AsyncSession, request_id: uuid.UUID) -> int:
    return int(await session.scalar(text(
        "SELECT count(*) FROM mt_proposals WHERE request_id = :r AND state = 'pending'"), {"r": request_id}) or 0)


async def withdraw_others(session: AsyncSession, request_id: uuid.UUID, keep: uuid.UUID, at: dt.datetime) -> None:
    await session.execute(text(
        "UPDATE mt_proposals SET state = 'withdrawn', answered_at = :at "
        "WHERE request_id = :r AND state = 'pending' AND id <> :keep"), {"r": request_id, "keep": keep, "at": at})


async def purge(session: AsyncSession, cutoff: dt.datetime) -> int:
    result = await session.execute(text(PURGE), {"cutoff": cutoff})
    return int(getattr(result, "rowcount", 0) or 0)


async def proposals_to(session: AsyncSession, practitioner_id: uuid.UUID, *, state: str | None, limit: int,
                       offset: int) -> Sequence[Any]:
    stmt = (select(MtProposal, MtRequest).join(MtRequest, MtRequest.id == MtProposal.request_id)
            .where(MtProposal.practitioner_id == practitioner_id)
            .order_by(MtProposal.created_at.desc(), MtProposal.id).limit(limit).offset(offset))
    if state:
        stmt = stmt.where(MtProposal.state == state)
    return (await session.execute(stmt)).all()


async def site_name(session: AsyncSession, site_id: uuid.UUID) -> str | None:
    name = await session.scalar(text("SELECT name FROM sites WHERE id = :s"), {"s": site_id})
    return None if name is None else str(name)


# An access consultation the coordinator may book now (app/slots's ACCESS_TAKEABLE) in the territories :codes. The
# list and the booking embed it, on the slots table aliased ``s``.
ACCESS_FREE = f"{ACCESS_TAKEABLE} AND s.territory_code = ANY(CAST(:codes AS text[]))"

ACCESS_SLOTS = f"""
SELECT s.id, s.practitioner_id, p.family_name, p.given_name, s.site_id, si.name AS site_name, si.address,
       si.postcode, s.territory_code, s.start_at, s.end_at, s.mode
FROM slots s JOIN practitioners p ON p.id = s.practitioner_id JOIN sites si ON si.id = s.site_id
WHERE {ACCESS_FREE}
ORDER BY s.start_at, s.id
LIMIT :limit"""

# Booking an access consultation: the slot taken in the statement that checks it (never checked, then taken).
BOOK_ACCESS = f"""
UPDATE slots s SET status = 'booked' WHERE s.id = :slot AND {ACCESS_FREE}
RETURNING s.id"""


async def access_slots(session: AsyncSession, codes: Sequence[str], limit: int) -> Sequence[Any]:
    return (await session.execute(text(ACCESS_SLOTS), {"codes": list(codes), "limit": limit})).mappings().all()


async def book_access(session: AsyncSession, slot_id: uuid.UUID, codes: Sequence[str]) -> bool:
    return (await session.execute(text(BOOK_ACCESS), {"slot": slot_id, "codes": list(codes)})).first() is not None


async def slot_kind(session: AsyncSession, slot_id: uuid.UUID, codes: Sequence[str]) -> str | None:
    kind = await session.scalar(text("SELECT kind FROM slots WHERE id = :s AND territory_code = ANY(CAST(:c AS "
                                     "text[]))"), {"s": slot_id, "c": list(codes)})
    return None if kind is None else str(kind)
