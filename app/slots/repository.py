"""Queries of the slots domain. Batches travel as arrays (``unnest``): one statement per step, not per slot."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Alias, ColumnElement, func, literal_column, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.practitioners.models import Practitioner, PractitionerTerritory
from app.sites.models import Site
from app.slots.bookers import CPTS_BIT
from app.slots.models import AvailabilityRule, Slot
from app.territories.models import Territory


@dataclass
class Batch:
    """Column arrays of slots to insert, index-aligned."""

    ids: list[uuid.UUID] = field(default_factory=list)
    practitioners: list[uuid.UUID] = field(default_factory=list)
    sites: list[uuid.UUID] = field(default_factory=list)
    territories: list[str] = field(default_factory=list)
    starts: list[dt.datetime] = field(default_factory=list)
    ends: list[dt.datetime] = field(default_factory=list)
    modes: list[str] = field(default_factory=list)
    audiences: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    bookable: list[int] = field(default_factory=list)
    releases: list[dt.timedelta | None] = field(default_factory=list)
    keys: list[str | None] = field(default_factory=list)
    rules: list[uuid.UUID | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


# Who may book the slot ``s`` (app/slots/bookers.py): the booker bits ``:bookers`` meet its
# ``bookable_by``; or it is open to the CPTS's own professionals and its CPTS is one of ``:member_of``;
# or its ``release_before`` has come (then it is open to every booker).
BOOKABLE = (
    "(s.bookable_by & CAST(:bookers AS smallint) <> 0 "
    f"OR (s.bookable_by & {CPTS_BIT} <> 0 AND s.territory_code = ANY(CAST(:member_of AS text[]))) "
    "OR s.start_at - s.release_before <= now())"
)

# An SNP slot, not an access consultation (kind ``access``: booked by the MT coordinator only, app/mt): the SNP
# search, holds and bookings (through CLAIMABLE), the FHIR facade, its bulk files and the participation hours read
# only these.
SNP_KIND = "s.kind = 'snp'"

# The one definition of "a slot can be taken now" (by ``:call_id``, NULL for no call in particular, and
# by the booker of ``BOOKABLE``'s parameters): an SNP slot, free, not started, not held by another call (a
# lapsed hold is no hold), and open to this booker. Search, hold and booking all embed it, on the slots
# table aliased ``s``.
CLAIMABLE = (
    f"{SNP_KIND} AND s.status = 'free' AND s.start_at > now() "
    "AND (s.held_until IS NULL OR s.held_until <= now() OR s.held_by_call_id = :call_id) "
    f"AND {BOOKABLE}"
)

# Where the doctor ``p`` may be given an over-capacity appointment: he consents, and the site ``si`` (of
# territory ``t``) is visible (``scope``), in a territory he serves (a CPTS under a served département
# counts, as for publishing) and one of his own sites (``practitioner_sites``: never a site 40 km from his).
OVER_CAPACITY_SERVES = """p.accepts_over_capacity AND si.territory_code IN (SELECT code FROM scope)
          AND EXISTS (SELECT 1 FROM practitioner_territories pt
                      WHERE pt.practitioner_id = p.id AND pt.territory_code IN (si.territory_code, t.parent_code))"""
OWN_SITE = "EXISTS (SELECT 1 FROM practitioner_sites ps WHERE ps.practitioner_id = p.id AND ps.site_id = si.id)"
OVER_CAPACITY_TARGET = f"""{OVER_CAPACITY_SERVES}
          AND {OWN_SITE}"""

# A slot its owner may withdraw: free and not held right now (a booked slot needs its booking cancelled).
WITHDRAWABLE = "s.status = 'free' AND (s.held_until IS NULL OR s.held_until <= now())"

# An access consultation that can be taken now (by the MT coordinator for a request, app/mt): of kind access,
# not started, free and not held.
ACCESS_TAKEABLE = f"s.kind = 'access' AND s.start_at > now() AND {WITHDRAWABLE}"

# A slot as its owner sees it; "held" is a hold not yet lapsed.
STATE_SQL = """
    CASE WHEN s.status = 'withdrawn' THEN 'withdrawn'
         WHEN s.status = 'booked' THEN 'booked'
         WHEN s.held_until > now() THEN 'held'
         WHEN s.start_at <= now() THEN 'past'
         ELSE 'free' END
"""

_INSERT = """
INSERT INTO slots (id, practitioner_id, site_id, territory_code, start_at, end_at, mode, audience, kind,
                   bookable_by, release_before, source, source_key, rule_id)
SELECT b.id, b.pid, b.site, b.territory, b.s, b.e, b.mode, b.audience, b.kind, b.bookable, b.release, :source,
       b.key, b.rule
FROM unnest(CAST(:ids AS uuid[]), CAST(:pids AS uuid[]), CAST(:sites AS uuid[]), CAST(:territories AS text[]),
            CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[]), CAST(:modes AS text[]),
            CAST(:audiences AS text[]), CAST(:kinds AS text[]), CAST(:bookable AS smallint[]),
            CAST(:releases AS interval[]), CAST(:keys AS text[]), CAST(:rules AS uuid[]))
     AS b(id, pid, site, territory, s, e, mode, audience, kind, bookable, release, key, rule)
-- One insertion order for every batch: two batches of one doctor then take the exclusion locks in the
-- same order, so they queue behind each other instead of deadlocking.
ORDER BY b.pid, b.s
"""

# A source_key the practitioner has already imported is skipped, not refused (re-sent calendars).
_SKIP_KNOWN_KEYS = " ON CONFLICT (practitioner_id, source_key) WHERE source_key IS NOT NULL DO NOTHING"
# Rolling rules forward: an occurrence already there, or overlapping a live slot, is skipped.
_SKIP_ANY_CONFLICT = " ON CONFLICT DO NOTHING"


async def insert(
    session: AsyncSession, batch: Batch, source: str, *, skip_known_keys: bool = False, skip_any_conflict: bool = False
) -> list[uuid.UUID]:
    """Insert the batch in one statement; the ids actually written."""
    if not batch:
        return []
    conflict = _SKIP_ANY_CONFLICT if skip_any_conflict else _SKIP_KNOWN_KEYS if skip_known_keys else ""
    stmt = text(_INSERT + conflict + " RETURNING id")
    rows = await session.execute(stmt, {
        "source": source, "ids": batch.ids, "pids": batch.practitioners, "sites": batch.sites,
        "territories": batch.territories, "starts": batch.starts, "ends": batch.ends, "modes": batch.modes,
        "audiences": batch.audiences, "kinds": batch.kinds or ["snp"] * len(batch), "bookable": batch.bookable,
        "releases": batch.releases, "keys": batch.keys,
        "rules": batch.rules,
    })
    return [r[0] for r in rows]


async def overlapping(
    session: AsyncSession, practitioners: list[uuid.UUID], starts: list[dt.datetime], ends: list[dt.datetime]
) -> list[tuple[int, uuid.UUID, uuid.UUID | None]]:
    """(item index, live slot id, its rule) for each item overlapping a live slot of its practitioner."""
    if not practitioners:
        return []
    # The outer bounds keep the scan on (practitioner_id, start_at) of the batch's doctors and time span
    # (a slot lasts at most 12 hours), whatever the size of the table.
    rows = await session.execute(text("""
        SELECT CAST(b.idx AS int) - 1, x.id, x.rule_id
        FROM unnest(CAST(:pids AS uuid[]), CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[]))
             WITH ORDINALITY AS b(pid, s, e, idx)
        JOIN slots x ON x.practitioner_id = b.pid AND x.status <> 'withdrawn'
             AND tstzrange(x.start_at, x.end_at, '[)') && tstzrange(b.s, b.e, '[)')
        WHERE x.practitioner_id = ANY(CAST(:distinct AS uuid[]))
          AND x.start_at > CAST(:lo AS timestamptz) - interval '12 hours' AND x.start_at < :hi
        ORDER BY 1, x.start_at
    """), {"pids": practitioners, "starts": starts, "ends": ends, "distinct": list(set(practitioners)),
           "lo": min(starts), "hi": max(ends)})
    return [(r[0], r[1], r[2]) for r in rows]


async def existing_keys(
    session: AsyncSession, practitioners: list[uuid.UUID], keys: list[str | None]
) -> set[tuple[uuid.UUID, str]]:
    rows = await session.execute(text("""
        SELECT s.practitioner_id, s.source_key
        FROM unnest(CAST(:pids AS uuid[]), CAST(:keys AS text[])) AS b(pid, key)
        JOIN slots s ON s.practitioner_id = b.pid AND s.source_key = b.key
    """), {"pids": practitioners, "keys": keys})
    return {(r[0], r[1]) for r in rows}


@dataclass(frozen=True)
class SiteInfo:
    territory_code: str
    parent_code: str | None
    timezone: str


async def sites(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, SiteInfo]:
    stmt = (
        select(Site.id, Site.territory_code, Territory.parent_code, Territory.timezone)
        .join(Territory, Territory.code == Site.territory_code)
        .where(Site.id.in_(list(ids)))
    )
    return {r[0]: SiteInfo(r[1], r[2], r[3]) for r in await session.execute(stmt)}


async def served(session: AsyncSession, practitioners: Sequence[uuid.UUID]) -> dict[uuid.UUID, set[str]]:
    """Territories each existing practitioner serves (a practitioner absent from the answer does not exist)."""
    stmt = (
        select(Practitioner.id, PractitionerTerritory.territory_code)
        .outerjoin(PractitionerTerritory, PractitionerTerritory.practitioner_id == Practitioner.id)
        .where(Practitioner.id.in_(list(practitioners)))
    )
    out: dict[uuid.UUID, set[str]] = {}
    for pid, code in await session.execute(stmt):
        out.setdefault(pid, set())
        if code is not None:
            out[pid].add(code)
    return out


# A slot as its owner reads it (SlotRead), with its state.
_s = cast(Alias, Slot.__table__.alias("s"))  # an Alias, which the stubs type as a plain FromClause
_STATE: ColumnElement[str] = literal_column(STATE_SQL)
_SLOT_COLUMNS = (
    _s.c.id, _s.c.practitioner_id, _s.c.site_id, _s.c.territory_code, _s.c.start_at.label("start"),
    _s.c.end_at.label("end"), _s.c.mode, _s.c.audience, _s.c.kind, _s.c.bookable_by, _s.c.release_before,
    _s.c.over_capacity, _s.c.status, _STATE.label("state"), _s.c.held_until,
    _s.c.source, _s.c.rule_id, _s.c.created_at, _s.c.withdrawn_at,
)


async def get(session: AsyncSession, slot_id: uuid.UUID) -> dict[str, Any] | None:
    found = (await session.execute(select(*_SLOT_COLUMNS).where(_s.c.id == slot_id))).mappings().first()
    return dict(found) if found else None


async def withdraw(session: AsyncSession, slot_id: uuid.UUID) -> dict[str, Any] | None:
    """Withdraw the slot if it is free and not held right now (compare-and-set); the slot, or None."""
    stmt = (
        update(_s).where(_s.c.id == slot_id, text(WITHDRAWABLE))
        .values(status="withdrawn", withdrawn_at=func.now()).returning(*_SLOT_COLUMNS)
    )
    found = (await session.execute(stmt)).mappings().first()
    return dict(found) if found else None


async def list_for(
    session: AsyncSession, practitioner_id: uuid.UUID, *, start_from: dt.datetime | None,
    start_to: dt.datetime | None, state: str | None, limit: int, offset: int,
) -> list[dict[str, Any]]:
    stmt = select(*_SLOT_COLUMNS).where(_s.c.practitioner_id == practitioner_id)
    if start_from is not None:
        stmt = stmt.where(_s.c.start_at >= start_from)
    if start_to is not None:
        stmt = stmt.where(_s.c.start_at < start_to)
    if state is not None:
        stmt = stmt.where(_STATE == state)
    stmt = stmt.order_by(_s.c.start_at, _s.c.id).limit(limit).offset(offset)
    return [dict(r) for r in (await session.execute(stmt)).mappings()]


# --- availability rules ---------------------------------------------------------------------

async def rule(session: AsyncSession, rule_id: uuid.UUID) -> AvailabilityRule | None:
    return await session.get(AvailabilityRule, rule_id, with_for_update=True)


async def rules_of(session: AsyncSession, practitioner_id: uuid.UUID | None, active_only: bool) -> Sequence[
    AvailabilityRule
]:
    stmt = select(AvailabilityRule).order_by(AvailabilityRule.created_at, AvailabilityRule.id)
    if practitioner_id is not None:
        stmt = stmt.where(AvailabilityRule.practitioner_id == practitioner_id)
    if active_only:
        stmt = stmt.where(AvailabilityRule.active.is_(True))
    return (await session.scalars(stmt)).all()


async def withdraw_rule_future(session: AsyncSession, rule_id: uuid.UUID, after: dt.datetime) -> int:
    """Withdraw the rule's slots starting after ``after`` that are free and not held; never booked ones."""
    stmt = (
        update(_s).where(_s.c.rule_id == rule_id, _s.c.start_at > after, text(WITHDRAWABLE))
        .values(status="withdrawn", withdrawn_at=func.now())
    )
    result = await session.execute(stmt)
    return result.rowcount or 0  # type: ignore[attr-defined]


async def timezones_of_sites(session: AsyncSession, site_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    return {k: v.timezone for k, v in (await sites(session, site_ids)).items()}


# --- participation --------------------------------------------------------------------------

_PARTICIPATION = """
WITH weeks AS (
    SELECT CAST(w AS date) AS week_start
    FROM generate_series(date_trunc('week', CAST(:first AS date)), date_trunc('week', CAST(:last AS date)),
                         interval '1 week') AS w
),
offered AS (
    SELECT CAST(date_trunc('week', s.start_at AT TIME ZONE t.timezone) AS date) AS week_start,
           s.end_at - s.start_at AS length, s.over_capacity, b.id AS booking_id, b.outcome
    FROM slots s
    JOIN territories t ON t.code = s.territory_code
    LEFT JOIN bookings b ON b.slot_id = s.id AND b.status = 'active'
    WHERE s.practitioner_id = :pid AND s.status <> 'withdrawn' AND s.kind = 'snp'
      AND s.start_at >= CAST(:first AS date) - interval '2 days'
      AND s.start_at < CAST(:last AS date) + interval '9 days'
),
per_week AS (
    SELECT w.week_start,
           count(o.length) FILTER (WHERE NOT o.over_capacity) AS slots_offered,
           round(CAST(coalesce(extract(epoch FROM sum(o.length) FILTER (WHERE NOT o.over_capacity)), 0) / 3600
                      AS numeric), 2) AS hours_offered,
           count(o.booking_id) AS orientations_received,
           count(o.booking_id) FILTER (WHERE o.over_capacity) AS over_capacity,
           count(*) FILTER (WHERE o.outcome = 'fulfilled') AS fulfilled,
           count(*) FILTER (WHERE o.outcome = 'noshow') AS noshow
    FROM weeks w LEFT JOIN offered o ON o.week_start = w.week_start
    GROUP BY w.week_start
)
SELECT to_char(week_start, 'IYYY-"W"IW') AS week, week_start, slots_offered, hours_offered,
       hours_offered >= CAST(:forfait AS numeric) AS reaches_forfait, orientations_received, over_capacity,
       fulfilled, noshow,
       count(*) OVER () AS total_weeks,
       count(*) FILTER (WHERE hours_offered >= CAST(:forfait AS numeric)) OVER () AS total_weeks_reaching_forfait,
       sum(slots_offered) OVER () AS total_slots_offered,
       sum(hours_offered) OVER () AS total_hours_offered,
       sum(orientations_received) OVER () AS total_orientations_received,
       sum(over_capacity) OVER () AS total_over_capacity,
       sum(fulfilled) OVER () AS total_fulfilled,
       sum(noshow) OVER () AS total_noshow
FROM per_week ORDER BY week_start
"""


async def participation(
    session: AsyncSession, practitioner_id: uuid.UUID, first: dt.date, last: dt.date, forfait_hours: float
) -> list[dict[str, Any]]:
    rows = await session.execute(
        text(_PARTICIPATION), {"pid": practitioner_id, "first": first, "last": last, "forfait": forfait_hours}
    )
    return [dict(r) for r in rows.mappings()]


# For /metrics: the published slots (not withdrawn, not an over-capacity appointment) per territory in the next
# 24 hours (week 0) and in the same 24 hours of each of the last four weeks (weeks 1 to 4).
_PUBLISHED_WINDOWS = text("""
    SELECT s.territory_code, w.week, count(*) AS n
    FROM generate_series(0, 4) AS w(week)
    JOIN slots s ON s.start_at >= now() - w.week * interval '7 days'
                AND s.start_at < now() - w.week * interval '7 days' + interval '24 hours'
    WHERE s.status <> 'withdrawn' AND NOT s.over_capacity
    GROUP BY s.territory_code, w.week""")


async def published_windows(conn: AsyncConnection) -> list[dict[str, Any]]:
    """How many slots each territory published in the next 24 hours (``week`` 0) and in the same hours of each
    of the last four weeks (``week`` 1 to 4)."""
    return [dict(row) for row in (await conn.execute(_PUBLISHED_WINDOWS)).mappings()]
