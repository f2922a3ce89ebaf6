"""The statistics queries: every aggregation runs in PostgreSQL, grouped by local month.

A report covers a *scope*: territory codes, each with the time zone its months are read in and
its callback targets. The period is given as local months ``[first, after)``; each code turns it
into UTC bounds in its own time zone so the range scans stay on ``(territory_code, received_at)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

WORK_MEM = "256MB"


@dataclass(frozen=True)
class ScopeRow:
    code: str
    timezone: str
    p1: float
    p2: float
    p3: float


_SCOPE = """
scope AS (
    SELECT s.code, s.tz, s.p1, s.p2, s.p3,
           CAST(:first AS timestamp) AT TIME ZONE s.tz AS start_utc,
           CAST(:after AS timestamp) AT TIME ZONE s.tz AS end_utc
    FROM unnest(CAST(:codes AS text[]), CAST(:tzs AS text[]), CAST(:p1 AS float8[]),
                CAST(:p2 AS float8[]), CAST(:p3 AS float8[])) AS s(code, tz, p1, p2, p3)
)"""

_FLAGS = """
           bool_or(d.kind = 'advice') AS advice,
           bool_or(d.kind = 'slot') AS slot,
           bool_or(d.kind = 'prescription') AS prescription,
           bool_or(d.kind = 'other') AS other,
           bool_or(d.other_reason = 'no_answer') AS other_no_answer,
           bool_or(d.other_reason = 'redirected_15') AS other_redirected_15,
           bool_or(d.other_reason = 'redirected_ed') AS other_redirected_ed,
           bool_or(d.other_reason = 'other') AS other_other"""

# A territory's calls fold their decisions one call at a time (an index probe each); the whole
# country folds every decision once and joins by hash, cheaper than millions of probes.
FOLD_PER_CALL = f"""
    LEFT JOIN LATERAL (SELECT {_FLAGS} FROM decisions d WHERE d.call_id = c.id) f ON true"""
FOLD_ALL = f"""
    LEFT JOIN (SELECT d.call_id, {_FLAGS} FROM decisions d GROUP BY d.call_id) f ON f.call_id = c.id"""

# One row per call of the period with its decisions folded into flags; then one row per local
# month and one for the whole period (the grouping set ``()``, where ``month`` is NULL).
CALLS_SQL = """
WITH {scope},
per_call AS (
    SELECT date_trunc('month', c.received_at AT TIME ZONE s.tz) AS month,
           c.channel,
           c.intent_without_sas AS intent,
           EXTRACT(epoch FROM c.first_callback_at - c.received_at) / 60.0 AS delay,
           CASE c.priority WHEN 'P1' THEN s.p1 WHEN 'P2' THEN s.p2 ELSE s.p3 END AS target,
           coalesce(f.advice::int + f.slot::int + f.prescription::int + f.other::int, 0) AS kinds,
           f.*
    FROM scope s
    JOIN calls c ON c.territory_code = s.code AND c.received_at >= s.start_utc AND c.received_at < s.end_utc
    {fold}
)
SELECT p.month,
       count(*) AS calls,
       count(*) FILTER (WHERE p.channel = '15') AS channel_15,
       count(*) FILTER (WHERE p.channel = '116117') AS channel_116117,
       count(*) FILTER (WHERE p.channel = 'urgences') AS channel_urgences,
       count(*) FILTER (WHERE p.channel = 'professionnel') AS channel_professionnel,
       count(*) FILTER (WHERE p.channel = 'autre') AS channel_autre,
       count(*) FILTER (WHERE p.advice) AS advice,
       count(*) FILTER (WHERE p.slot) AS slot,
       count(*) FILTER (WHERE p.prescription) AS prescription,
       count(*) FILTER (WHERE p.other) AS other,
       count(*) FILTER (WHERE p.other_no_answer) AS other_no_answer,
       count(*) FILTER (WHERE p.other_redirected_15) AS other_redirected_15,
       count(*) FILTER (WHERE p.other_redirected_ed) AS other_redirected_ed,
       count(*) FILTER (WHERE p.other_other) AS other_other,
       count(*) FILTER (WHERE p.kinds >= 2) AS several,
       count(*) FILTER (WHERE p.kinds = 0) AS without_decision,
       count(*) FILTER (WHERE p.intent = 'urgences') AS intent_urgences,
       count(*) FILTER (
           WHERE p.intent = 'urgences'
             AND NOT coalesce(p.other_redirected_ed OR p.other_redirected_15, false)
       ) AS avoided_declared,
       count(p.delay) AS called_back,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY p.delay) AS delay_median,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY p.delay) AS delay_p90,
       count(*) FILTER (WHERE p.delay <= 60) AS within_60,
       count(*) FILTER (WHERE p.delay <= p.target) AS within_target
FROM per_call p
GROUP BY GROUPING SETS ((p.month), ())
"""

# Slots by the local month of their start; a slot is booked when it holds the (unique) active booking.
SLOTS_SQL = f"""
WITH {_SCOPE},
per_slot AS (
    SELECT date_trunc('month', sl.start_at AT TIME ZONE s.tz) AS month,
           EXTRACT(epoch FROM sl.end_at - sl.start_at) AS seconds,
           b.id AS booking_id,
           b.outcome
    FROM scope s
    JOIN slots sl ON sl.territory_code = s.code AND sl.start_at >= s.start_utc AND sl.start_at < s.end_utc
    LEFT JOIN bookings b ON b.slot_id = sl.id AND b.status = 'active'
    WHERE sl.status <> 'withdrawn'
)
SELECT month,
       count(*) AS published,
       coalesce(sum(seconds), 0) / 3600.0 AS published_hours,
       count(booking_id) AS booked,
       count(*) FILTER (WHERE outcome = 'fulfilled') AS fulfilled,
       count(*) FILTER (WHERE outcome = 'noshow') AS noshow,
       count(*) FILTER (WHERE booking_id IS NOT NULL AND outcome IS NULL) AS without_outcome
FROM per_slot
GROUP BY GROUPING SETS ((month), ())
"""

SCOPE_OF_ALL_SQL = """
SELECT t.code, coalesce(p.timezone, t.timezone) AS timezone,
       coalesce(p.priority_delays, t.priority_delays) AS priority_delays
FROM territories t LEFT JOIN territories p ON p.code = t.parent_code
ORDER BY t.code
"""


def _params(scope: Sequence[ScopeRow], first: dt.date, after: dt.date) -> dict[str, Any]:
    return {
        "codes": [r.code for r in scope], "tzs": [r.timezone for r in scope],
        "p1": [r.p1 for r in scope], "p2": [r.p2 for r in scope], "p3": [r.p3 for r in scope],
        "first": dt.datetime.combine(first, dt.time()), "after": dt.datetime.combine(after, dt.time()),
    }


async def _grouped(session: AsyncSession, sql: str, params: dict[str, Any]) -> dict[str | None, dict[str, Any]]:
    # Sorting and hashing a national year in memory rather than in temporary files.
    await session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
    rows = (await session.execute(text(sql), params)).mappings().all()
    return {(r["month"].strftime("%Y-%m") if r["month"] else None): dict(r) for r in rows}


async def call_figures(
    session: AsyncSession, scope: Sequence[ScopeRow], first: dt.date, after: dt.date, *, national: bool = False
) -> dict[str | None, dict[str, Any]]:
    """Call and decision aggregates keyed by ``YYYY-MM`` (and ``None`` for the whole period)."""
    sql = CALLS_SQL.format(scope=_SCOPE, fold=FOLD_ALL if national else FOLD_PER_CALL)
    return await _grouped(session, sql, _params(scope, first, after))


async def slot_figures(
    session: AsyncSession, scope: Sequence[ScopeRow], first: dt.date, after: dt.date
) -> dict[str | None, dict[str, Any]]:
    """Slot and booking aggregates keyed like :func:`call_figures`."""
    return await _grouped(session, SLOTS_SQL, _params(scope, first, after))


async def all_territories(session: AsyncSession) -> list[dict[str, Any]]:
    """Every territory with the time zone and callback targets of its département."""
    return [dict(r) for r in (await session.execute(text(SCOPE_OF_ALL_SQL))).mappings().all()]
