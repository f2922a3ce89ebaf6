"""The statistics queries: every aggregation runs in PostgreSQL, grouped by local month.

A report covers a *scope*: territory codes, each with the time zone its months are read in and
its callback targets. The period is given as local months ``[first, after)``; PostgreSQL turns each
time zone's local month starts into UTC instants once, so each row's month is a bucket among them
(``width_bucket``) and the range scans stay on ``(territory_code, received_at)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.platform.config import get_settings
from app.platform.geo import haversine_km
from app.stats.facts import COUNTERS, delay_minute

WORK_MEM = "256MB"
COUNTS = tuple(COUNTERS)


@dataclass(frozen=True)
class ScopeRow:
    code: str
    timezone: str
    p1: float
    p2: float
    p3: float


_SCOPE = """
scope AS (
    SELECT s.code, s.p1, s.p2, s.p3,
           (CAST(:bounds AS timestamptz[]))[s.n * :width + 1:(s.n + 1) * :width] AS bounds
    FROM unnest(CAST(:codes AS text[]), CAST(:p1 AS float8[]), CAST(:p2 AS float8[]), CAST(:p3 AS float8[]),
                CAST(:zone_index AS int[])) AS s(code, p1, p2, p3, n)
)"""

# One count a counter of the report (app/stats/facts.py), each with its condition.
_COUNTED = ",\n           ".join(f"count(*) FILTER (WHERE {cond}) AS {name}" for name, cond in COUNTERS.items())

# Each call of the scope and period is read once, from the covering index ``ix_stats_calls_scope``:
# its local month is its bucket among the UTC instants of the scope's local month starts, and its
# decisions are the bit masks PostgreSQL keeps on its row (app/stats/facts.py), so decisions are
# never joined. The calls are grouped by (month, callback target, callback delay): every count adds
# up across those groups, and the groups' delays form an exact histogram from which the medians and
# p90 are interpolated exactly as ``percentile_cont`` would. Plain grouping, unlike an ordered-set
# aggregate over grouping sets, lets PostgreSQL aggregate in parallel workers.
CALLS_SQL = f"""
WITH {_SCOPE},
groups AS (
    SELECT width_bucket(c.received_at, s.bounds) AS m,
           CASE c.priority WHEN 'P1' THEN s.p1 WHEN 'P2' THEN s.p2 ELSE s.p3 END AS target,
           c.first_callback_at - c.received_at AS delay,
           {_COUNTED}
    FROM scope s
    JOIN calls c ON c.territory_code = s.code
    WHERE c.received_at >= s.bounds[1] AND c.received_at < s.bounds[:width]
      AND c.received_at >= CAST(:lowest AS timestamptz) AND c.received_at < CAST(:highest AS timestamptz)
    GROUP BY 1, 2, 3
),
delays AS (
    SELECT m, target, calls AS n, EXTRACT(epoch FROM delay) / 60.0 AS minutes
    FROM groups WHERE delay IS NOT NULL
),
-- One histogram per month and one for the period (month NULL), with running counts.
histogram AS (
    SELECT m, minutes, sum(n) AS n FROM delays GROUP BY GROUPING SETS ((m, minutes), (minutes))
),
ranked AS (
    SELECT m, minutes, sum(n) OVER (PARTITION BY m ORDER BY minutes) AS upto,
           CAST(sum(n) OVER (PARTITION BY m) AS float8) AS total
    FROM histogram
),
-- percentile_cont(p): the values at 0-based ranks floor(p(N-1)) and ceil(p(N-1)), interpolated.
percentiles AS (
    SELECT m,
           CAST(min(minutes) FILTER (WHERE upto > floor(0.5 * (total - 1))) AS float8) AS lo50,
           CAST(min(minutes) FILTER (WHERE upto > ceil(0.5 * (total - 1))) AS float8) AS hi50,
           0.5 * (max(total) - 1) - floor(0.5 * (max(total) - 1)) AS frac50,
           CAST(min(minutes) FILTER (WHERE upto > floor(0.9 * (total - 1))) AS float8) AS lo90,
           CAST(min(minutes) FILTER (WHERE upto > ceil(0.9 * (total - 1))) AS float8) AS hi90,
           0.9 * (max(total) - 1) - floor(0.9 * (max(total) - 1)) AS frac90
    FROM ranked GROUP BY m
),
callbacks AS (
    SELECT m, CAST(sum(n) AS bigint) AS called_back,
           CAST(coalesce(sum(n) FILTER (WHERE minutes <= 60), 0) AS bigint) AS within_60,
           CAST(coalesce(sum(n) FILTER (WHERE minutes <= target), 0) AS bigint) AS within_target
    FROM delays GROUP BY GROUPING SETS ((m), ())
),
counts AS (
    SELECT m, {", ".join(f"CAST(coalesce(sum({c}), 0) AS bigint) AS {c}" for c in COUNTS)}
    FROM groups GROUP BY GROUPING SETS ((m), ())
)
SELECT c.m, {", ".join(f"c.{c}" for c in COUNTS)},
       coalesce(b.called_back, 0) AS called_back, coalesce(b.within_60, 0) AS within_60,
       coalesce(b.within_target, 0) AS within_target,
       p.lo50 + frac50 * (p.hi50 - p.lo50) AS delay_median,
       p.lo90 + frac90 * (p.hi90 - p.lo90) AS delay_p90
FROM counts c
LEFT JOIN callbacks b ON b.m IS NOT DISTINCT FROM c.m
LEFT JOIN percentiles p ON p.m IS NOT DISTINCT FROM c.m
"""

# The UTC instants of the local month starts first..after, in each time zone of the scope.
BOUNDS_SQL = """
SELECT z.tz, array_agg((CAST(:first AS timestamp) + make_interval(months => g)) AT TIME ZONE z.tz ORDER BY g) AS bounds
FROM unnest(CAST(:tzs AS text[])) AS z(tz), generate_series(0, :months) AS g
GROUP BY z.tz
"""

# Slots by the local month of their start; a slot is booked when it holds the (unique) active booking.
# Over-capacity appointments are not published slots: counted apart, with their bookings' outcomes. Only the
# booked slots are looked up among the bookings: PostgreSQL keeps an active booking's slot booked (migration 0050),
# and the lookup stays apart (``OFFSET 0``) so that the slot's status gates it (a fifth of a month's slots
# are booked; every slot looked up cost a département's report ~10 ms).
SLOTS_SQL = f"""
WITH {_SCOPE}
SELECT width_bucket(sl.start_at, s.bounds) AS m,
       count(*) FILTER (WHERE NOT sl.over_capacity) AS published,
       coalesce(sum(EXTRACT(epoch FROM sl.end_at - sl.start_at)) FILTER (WHERE NOT sl.over_capacity), 0) / 3600.0
           AS published_hours,
       count(b.slot_id) FILTER (WHERE NOT sl.over_capacity) AS booked,
       count(b.slot_id) FILTER (WHERE sl.over_capacity) AS over_capacity,
       count(DISTINCT sl.practitioner_id) FILTER (WHERE NOT sl.over_capacity) AS effectors_active,
       count(*) FILTER (WHERE b.outcome = 'fulfilled') AS fulfilled,
       count(*) FILTER (WHERE b.outcome = 'noshow') AS noshow,
       count(*) FILTER (WHERE b.slot_id IS NOT NULL AND b.outcome IS NULL) AS without_outcome
FROM scope s
JOIN slots sl ON sl.territory_code = s.code
LEFT JOIN LATERAL (SELECT b.slot_id, b.outcome FROM bookings b
                   WHERE sl.status = 'booked' AND b.slot_id = sl.id AND b.status = 'active' OFFSET 0) AS b ON true
WHERE sl.status <> 'withdrawn' AND sl.kind = 'snp' AND sl.start_at >= s.bounds[1] AND sl.start_at < s.bounds[:width]
  AND sl.start_at >= CAST(:lowest AS timestamptz) AND sl.start_at < CAST(:highest AS timestamptz)
GROUP BY GROUPING SETS ((1), ())
"""

# The calls of a few kinds, by the local month of their reception, each read from its small partial
# index (the other calls are never read): referred calls by kind of referrer (``ix_calls_referrals``),
# and calls re-oriented at least once (``ix_calls_reoriented``).
CALL_EXTRAS_SQL = f"""
WITH {_SCOPE}
SELECT width_bucket(c.received_at, s.bounds) AS m, 'referrer:' || c.referrer_kind AS kind, count(*) AS n
FROM scope s
JOIN calls c ON c.territory_code = s.code AND c.referrer_kind IS NOT NULL
WHERE c.received_at >= s.bounds[1] AND c.received_at < s.bounds[:width]
  AND c.received_at >= CAST(:lowest AS timestamptz) AND c.received_at < CAST(:highest AS timestamptz)
GROUP BY GROUPING SETS ((1, 2), (2))
UNION ALL
SELECT width_bucket(c.received_at, s.bounds), 'reoriented', count(*)
FROM scope s
JOIN calls c ON c.territory_code = s.code AND c.reorient_at IS NOT NULL
WHERE c.received_at >= s.bounds[1] AND c.received_at < s.bounds[:width]
  AND c.received_at >= CAST(:lowest AS timestamptz) AND c.received_at < CAST(:highest AS timestamptz)
GROUP BY GROUPING SETS ((1), ())
"""

# A slot's site is near a postcode when its centroid lies within this many km.
COVERAGE_KM = 30
_NEAR = haversine_km("a.lat", "a.lon", "v.lat", "v.lon")
# The postcodes of the area (``:area``, with coordinates), and how many lie within COVERAGE_KM of a site
# holding a published slot of the scope, month by month and over the period (m NULL). A box of
# ±0.3° of latitude prefilters the sites before the exact distance.
COVERAGE_SQL = f"""
WITH {_SCOPE},
area AS (
    SELECT p.postcode, p.lat, p.lon FROM postcodes p
    WHERE p.postcode = ANY(CAST(:area AS text[])) AND p.lat IS NOT NULL
),
served AS (
    -- the sites of the months' slots first (a site holds many slots), then their places
    SELECT v.m, si.lat, si.lon
    FROM (SELECT DISTINCT width_bucket(sl.start_at, s.bounds) AS m, sl.site_id
          FROM scope s
          JOIN slots sl ON sl.territory_code = s.code
          WHERE sl.status <> 'withdrawn' AND NOT sl.over_capacity
            AND sl.start_at >= s.bounds[1] AND sl.start_at < s.bounds[:width]
            AND sl.start_at >= CAST(:lowest AS timestamptz) AND sl.start_at < CAST(:highest AS timestamptz)) AS v
    JOIN sites si ON si.id = v.site_id
),
months AS (SELECT generate_series(1, :width - 1) AS m)
SELECT mo.m, count(*) AS postcodes,
       count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM served v WHERE v.m = mo.m AND v.lat BETWEEN a.lat - 0.3 AND a.lat + 0.3
             AND {_NEAR} <= {COVERAGE_KM})) AS covered
FROM months mo CROSS JOIN area a
GROUP BY mo.m
UNION ALL
SELECT NULL, count(*),
       count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM served v WHERE v.lat BETWEEN a.lat - 0.3 AND a.lat + 0.3 AND {_NEAR} <= {COVERAGE_KM}))
FROM area a
"""

SCOPE_OF_ALL_SQL = """
SELECT t.code, coalesce(p.timezone, t.timezone) AS timezone,
       coalesce(p.priority_delays, t.priority_delays) AS priority_delays
FROM territories t LEFT JOIN territories p ON p.code = t.parent_code
ORDER BY t.code
"""


async def window(
    session: AsyncSession, scope: Sequence[ScopeRow], first: dt.date, after: dt.date
) -> dict[str, Any]:
    """The scope as arrays, with the UTC instants of its local month starts (time zones read by PostgreSQL): the
    parameters every figure of a report reads; a report reads it once and gives it to each (``given``)."""
    months = (after.year - first.year) * 12 + after.month - first.month
    zones = sorted({r.timezone for r in scope})
    rows = await session.execute(
        text(BOUNDS_SQL), {"first": dt.datetime.combine(first, dt.time()), "tzs": zones, "months": months}
    )
    bounds_of = {r.tz: r.bounds for r in rows}
    flat = [instant for zone in zones for instant in bounds_of[zone]]
    return {
        "codes": [r.code for r in scope], "p1": [r.p1 for r in scope], "p2": [r.p2 for r in scope],
        "p3": [r.p3 for r in scope], "zone_index": [zones.index(r.timezone) for r in scope],
        "bounds": flat, "width": months + 1, "lowest": min(flat), "highest": max(flat),
    }


async def _params(
    session: AsyncSession, scope: Sequence[ScopeRow], first: dt.date, after: dt.date, given: dict[str, Any] | None,
) -> dict[str, Any]:
    """A figure's parameters, its transaction set for a report first (every figure reads through here)."""
    await _report_settings(session)
    return dict(given) if given is not None else await window(session, scope, first, after)


# A report's transaction settings: hashing a national year in memory rather than in temporary files, a longer
# statement budget than the rest of the app (SNP_REPORT_STATEMENT_TIMEOUT_MS), and plans for the actual values
# (``plan_for_the_values``). One statement, once per transaction.
_REPORT_SETTINGS = text("SELECT set_config('work_mem', :work_mem, true), "
                        "set_config('statement_timeout', :timeout, true), "
                        "set_config('plan_cache_mode', 'force_custom_plan', true)")


async def _report_settings(session: AsyncSession) -> None:
    transaction = session.get_transaction()
    if transaction is not None and session.info.get("report_settings") is transaction:
        return
    await session.execute(_REPORT_SETTINGS, {"work_mem": WORK_MEM,
                                             "timeout": str(int(get_settings().report_statement_timeout_ms))})
    session.info["report_settings"] = session.get_transaction()


async def _grouped(session: AsyncSession, sql: str, params: dict[str, Any], first: dt.date) -> dict[str | None, Any]:
    """``sql`` run with ``params`` (``_params``'s: the transaction is set for a report), keyed by month."""
    rows = (await session.execute(text(sql), params)).mappings().all()
    return {(_month_of(first, r["m"]) if r["m"] else None): dict(r) for r in rows}


def _month_of(first: dt.date, bucket: int) -> str:
    index = first.month - 1 + bucket - 1
    return f"{first.year + index // 12:04d}-{index % 12 + 1:02d}"


async def call_figures(
    session: AsyncSession, scope: Sequence[ScopeRow], first: dt.date, after: dt.date,
    given: dict[str, Any] | None = None,
) -> dict[str | None, dict[str, Any]]:
    """Call and decision aggregates keyed by ``YYYY-MM`` (and ``None`` for the whole period)."""
    return await _grouped(session, CALLS_SQL, await _params(session, scope, first, after, given), first)


async def slot_figures(
    session: AsyncSession, scope: Sequence[ScopeRow], first: dt.date, after: dt.date,
    given: dict[str, Any] | None = None,
) -> dict[str | None, dict[str, Any]]:
    """Slot and booking aggregates keyed like :func:`call_figures`."""
    return await _grouped(session, SLOTS_SQL, await _params(session, scope, first, after, given), first)


async def call_extras(
    session: AsyncSession, scope: Sequence[ScopeRow], first: dt.date, after: dt.date,
    given: dict[str, Any] | None = None,
) -> dict[str | None, dict[str, int]]:
    """Referred calls by kind (``referrer:<kind>``) and re-oriented calls (``reoriented``), keyed like
    :func:`call_figures`."""
    params = await _params(session, scope, first, after, given)
    out: dict[str | None, dict[str, int]] = {}
    for r in (await session.execute(text(CALL_EXTRAS_SQL), params)).mappings():
        month = _month_of(first, r["m"]) if r["m"] else None
        out.setdefault(month, {})[r["kind"]] = r["n"]
    return out


async def coverage(
    session: AsyncSession, scope: Sequence[ScopeRow], first: dt.date, after: dt.date, area: Sequence[str],
    given: dict[str, Any] | None = None
) -> dict[str | None, tuple[int, int]]:
    """(postcodes of the area with coordinates, those within COVERAGE_KM of a site with a slot), keyed like
    :func:`call_figures`."""
    params = {**await _params(session, scope, first, after, given), "area": list(area)}
    rows = (await session.execute(text(COVERAGE_SQL), params)).mappings()
    return {(_month_of(first, r["m"]) if r["m"] else None): (r["postcodes"], r["covered"]) for r in rows}


async def all_territories(session: AsyncSession) -> list[dict[str, Any]]:
    """Every territory with the time zone and callback targets of its département."""
    return [dict(r) for r in (await session.execute(text(SCOPE_OF_ALL_SQL))).mappings().all()]


# --- the calls of a report, from the rollup (migrations 0007, 0049) ----------------------------------
#
# Counters come from the cells of the scope's territories and the deltas not folded in yet (exact at
# any time), read by their keys. Medians and p90 are exact too: the cells' per-minute histogram says which
# callback minute holds each rank needed and the rank within that minute; the calls of those minutes only,
# territory by territory (``ix_stats_calls_delay``), give the value at that rank, as percentile_cont would pick it.

_ROLLUP_SCOPE = f"""{_SCOPE}, cells AS (
    -- the scope's own cells and deltas, by key (a territory reads its own, not the nation's)
    SELECT * FROM stats_call_cells
    WHERE territory_code = ANY(CAST(:codes AS text[])) AND month >= :first AND month < :after
    UNION ALL
    SELECT * FROM stats_call_deltas
    WHERE territory_code = ANY(CAST(:codes AS text[])) AND month >= :first AND month < :after
), sel AS (
    -- the scope's cells summed over its territories: per month, callback target and callback minute
    SELECT CAST((EXTRACT(year FROM c.month) - :year) * 12 + EXTRACT(month FROM c.month) - :month + 1 AS int) AS m,
           CASE c.priority WHEN 'P1' THEN s.p1 WHEN 'P2' THEN s.p2 ELSE s.p3 END AS target,
           c.called_back, c.delay_bucket, {", ".join(f"sum(c.{name}) AS {name}" for name in COUNTS)}
    FROM cells c JOIN scope s ON s.code = c.territory_code
    GROUP BY 1, 2, 3, 4
)"""

DELAY_MINUTE = delay_minute("c")

ROLLUP_SQL = f"""
WITH {_ROLLUP_SCOPE},
counts AS (
    SELECT m, {", ".join(f"CAST(coalesce(sum({c}), 0) AS bigint) AS {c}" for c in COUNTS)},
           CAST(coalesce(sum(calls) FILTER (WHERE called_back), 0) AS bigint) AS called_back,
           CAST(coalesce(sum(calls) FILTER (WHERE called_back AND delay_bucket <= 60), 0) AS bigint) AS within_60,
           CAST(coalesce(sum(calls) FILTER (WHERE called_back AND delay_bucket <= target), 0) AS bigint)
               AS within_target
    FROM sel GROUP BY GROUPING SETS ((m), ())
    HAVING GROUPING(m) = 1 OR sum(calls) <> 0  -- a month whose calls all went elsewhere has none
), histogram AS (
    SELECT m, delay_bucket AS b, sum(calls) AS n FROM sel WHERE called_back
    GROUP BY GROUPING SETS ((m, delay_bucket), (delay_bucket))
    HAVING sum(calls) > 0
), running AS (
    SELECT m, b, n, sum(n) OVER (PARTITION BY m ORDER BY b) AS upto,
           CAST(sum(n) OVER (PARTITION BY m) AS float8) - 1 AS last
    FROM histogram
), ranks AS (
    -- percentile_cont(p) reads 0-based ranks floor(p(N-1)) and ceil(p(N-1)), ranked in float8 as the
    -- call-by-call query ranks them
    SELECT DISTINCT r.m, v.p, v.rank
    FROM running r
    CROSS JOIN LATERAL (VALUES (0.5, CAST(floor(0.5 * r.last) AS bigint)), (0.5, CAST(ceil(0.5 * r.last) AS bigint)),
                               (0.9, CAST(floor(0.9 * r.last) AS bigint)), (0.9, CAST(ceil(0.9 * r.last) AS bigint)))
        AS v(p, rank)
), needed AS (
    -- the minute holding each rank, and the rank within that minute
    SELECT k.m, k.p, k.rank, r.b, k.rank - (r.upto - r.n) AS within
    FROM ranks k JOIN running r ON r.m IS NOT DISTINCT FROM k.m AND r.upto > k.rank AND r.upto - r.n <= k.rank
), minute_calls AS (
    -- one index range (ix_stats_calls_delay) a territory of the scope and a minute needed: the calls read are
    -- those of the scope's minutes, whatever the size of the nation
    SELECT width_bucket(c.received_at, s.bounds) AS m, c.b, c.minutes
    FROM (SELECT DISTINCT b FROM needed) AS wanted
    CROSS JOIN scope s
    CROSS JOIN LATERAL (
        SELECT {DELAY_MINUTE} AS b, c.received_at,
               EXTRACT(epoch FROM c.first_callback_at - c.received_at) / 60.0 AS minutes
        FROM calls c
        WHERE c.first_callback_at IS NOT NULL AND c.territory_code = s.code AND {DELAY_MINUTE} = wanted.b
          AND c.received_at >= s.bounds[1] AND c.received_at < s.bounds[:width]
        OFFSET 0  -- read per (territory, minute), never all the scope's calls joined to the minutes after
    ) AS c
), ranked AS (
    SELECT m, b, CAST(minutes AS float8) AS minutes,
           row_number() OVER (PARTITION BY m, b ORDER BY minutes) - 1 AS in_month,
           row_number() OVER (PARTITION BY b ORDER BY minutes) - 1 AS in_period
    FROM minute_calls
), picked AS (
    SELECT n.m, n.p, n.rank, x.minutes FROM needed n
    JOIN ranked x ON x.b = n.b AND x.m = n.m AND x.in_month = n.within
    UNION ALL
    SELECT n.m, n.p, n.rank, x.minutes FROM needed n
    JOIN ranked x ON x.b = n.b AND x.in_period = n.within AND n.m IS NULL
), percentiles AS (
    SELECT k.m, k.p, min(k.minutes) FILTER (WHERE k.rank = CAST(floor(k.p * t.last) AS bigint)) AS lo,
           min(k.minutes) FILTER (WHERE k.rank = CAST(ceil(k.p * t.last) AS bigint)) AS hi,
           max(k.p * t.last - floor(k.p * t.last)) AS frac
    FROM picked k JOIN (SELECT DISTINCT m, last FROM running) t ON t.m IS NOT DISTINCT FROM k.m
    GROUP BY k.m, k.p
)
SELECT c.*, p50.lo + p50.frac * (p50.hi - p50.lo) AS delay_median,
       p90.lo + p90.frac * (p90.hi - p90.lo) AS delay_p90
FROM counts c
LEFT JOIN percentiles p50 ON p50.m IS NOT DISTINCT FROM c.m AND p50.p = 0.5
LEFT JOIN percentiles p90 ON p90.m IS NOT DISTINCT FROM c.m AND p90.p = 0.9
"""


async def rollup_call_figures(
    session: AsyncSession, scope: Sequence[ScopeRow], first: dt.date, after: dt.date,
    given: dict[str, Any] | None = None,
) -> dict[str | None, dict[str, Any]]:
    """:func:`call_figures` read from the rollup instead of call by call: the same figures when each territory
    of the scope is read in the time zone its cells' months are in (its département's)."""
    params = await _params(session, scope, first, after, given)
    params.update({"first": first, "after": after, "year": first.year, "month": first.month})
    return await _grouped(session, ROLLUP_SQL, params, first)


async def compact_rollup(session: AsyncSession, max_rows: int | None = None) -> int:
    """Fold the rollup's pending deltas into its cells (at most ``max_rows``); how many were folded."""
    if max_rows is None:
        return int((await session.execute(text("SELECT stats_compact()"))).scalar_one())
    return int((await session.execute(text("SELECT stats_compact(CAST(:n AS bigint))"), {"n": max_rows})).scalar_one())


# Of the changes appended for one (territory, month), the latest says as much as the others once every report kept
# anywhere was computed after them (a report is kept at most app/stats/cache.py's KEEP_SECONDS): those go.
DROP_SUPERSEDED_CHANGES = """
DELETE FROM stats_changes c
WHERE c.written_at < clock_timestamp() - make_interval(secs => :age)
  AND EXISTS (SELECT 1 FROM stats_changes d
              WHERE d.territory_code = c.territory_code AND d.month = c.month AND d.changed > c.changed
                AND d.written_at < clock_timestamp() - make_interval(secs => :age))
"""


async def drop_superseded_changes(session: AsyncSession, age_seconds: float = 3600.0) -> int:
    """Drop the changes of ``stats_changes`` that a later one of the same (territory, month) supersedes, both
    written more than ``age_seconds`` ago (twice the longest a report is kept)."""
    result = await session.execute(text(DROP_SUPERSEDED_CHANGES), {"age": age_seconds})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# The patients without a médecin traitant (app/mt), by the local month of each event: requests received (by
# source), accepted by a doctor, found (with the days from reception to finding), closed (by reason), proposals
# refused (by reason), access consultations booked (by their slot's month); and, at the end of each month (now for
# a month not ended), the requests still waiting (received, not yet found or closed) with their median age in days.
# The whole period (m NULL) adds up the events; its waiting figures are those of its last month, taken by the
# service.
MT_SQL = f"""
WITH {_SCOPE},
r AS (
    SELECT q.*, s.bounds FROM scope s JOIN mt_requests q ON q.territory_code = s.code
    WHERE q.created_at < CAST(:highest AS timestamptz)
)
SELECT width_bucket(created_at, bounds) AS m, 'received:' || source AS kind, count(*) AS n, CAST(NULL AS float8) AS days
FROM r WHERE created_at >= bounds[1] AND created_at < bounds[:width]
GROUP BY GROUPING SETS ((1, 2), (2))
UNION ALL
SELECT width_bucket(accepted_at, bounds), 'accepted', count(*), NULL
FROM r WHERE accepted_at >= bounds[1] AND accepted_at < bounds[:width]
GROUP BY GROUPING SETS ((1), ())
UNION ALL
SELECT width_bucket(found_at, bounds), 'found', count(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(epoch FROM found_at - created_at) / 86400.0)
FROM r WHERE state = 'found' AND found_at >= bounds[1] AND found_at < bounds[:width]
GROUP BY GROUPING SETS ((1), ())
UNION ALL
SELECT width_bucket(closed_at, bounds), 'closed:' || closed_reason, count(*), NULL
FROM r WHERE state = 'closed' AND closed_at >= bounds[1] AND closed_at < bounds[:width]
GROUP BY GROUPING SETS ((1, 2), (2))
UNION ALL
SELECT width_bucket(p.answered_at, r.bounds), 'refused:' || p.refusal_reason, count(*), NULL
FROM r JOIN mt_proposals p ON p.request_id = r.id
WHERE p.state = 'refused' AND p.answered_at >= r.bounds[1] AND p.answered_at < r.bounds[:width]
GROUP BY GROUPING SETS ((1, 2), (2))
UNION ALL
SELECT width_bucket(sl.start_at, r.bounds), 'access', count(*), NULL
FROM r JOIN slots sl ON sl.id = r.access_slot_id
WHERE sl.start_at >= r.bounds[1] AND sl.start_at < r.bounds[:width]
GROUP BY GROUPING SETS ((1), ())
UNION ALL
SELECT mo.m, 'waiting', count(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(epoch FROM mo.at - r.created_at) / 86400.0)
FROM r CROSS JOIN LATERAL (SELECT g AS m, least(r.bounds[g + 1], statement_timestamp()) AS at
                           FROM generate_series(1, :width - 1) AS g) AS mo
WHERE r.created_at < mo.at AND (r.ended_at IS NULL OR r.ended_at >= mo.at)
GROUP BY mo.m
"""

# The doctors of the scope's sites who take new patients now, and how many a month they offer together.
MT_OFFERS_SQL = """
SELECT count(*) AS doctors, coalesce(sum(o.per_month), 0) AS per_month
FROM mt_offers o
WHERE o.accepting AND (o.until IS NULL OR o.until >= current_date)
  AND EXISTS (SELECT 1 FROM sites si WHERE si.id = ANY(o.site_ids) AND si.territory_code = ANY(CAST(:codes AS text[])))
"""


async def mt_figures(
    session: AsyncSession, scope: Sequence[ScopeRow], first: dt.date, after: dt.date,
    given: dict[str, Any] | None = None,
) -> tuple[dict[str | None, dict[str, Any]], dict[str, int]]:
    """The MT events and waiting figures keyed like :func:`call_figures` (``kind`` → (count, days)), and the offers
    of now."""
    params = await _params(session, scope, first, after, given)
    out: dict[str | None, dict[str, Any]] = {}
    for r in (await session.execute(text(MT_SQL), params)).mappings():
        month = _month_of(first, r["m"]) if r["m"] else None
        out.setdefault(month, {})[r["kind"]] = (int(r["n"]), None if r["days"] is None else float(r["days"]))
    offers = (await session.execute(text(MT_OFFERS_SQL), {"codes": params["codes"]})).mappings().one()
    return out, {"doctors": int(offers["doctors"]), "per_month": int(offers["per_month"])}


# What the patients were told of the bookings of the month's slots and over-capacity appointments (app/notices):
# bookings whose confirmation (or change of slot) reached the patient, by channel; reminders sent; bookings the
# patient cancelled through his link; and, of the active bookings made at least the reminder's delay ahead with
# an outcome, those with a reminder sent and those without, with their no-shows. The slots are read from the
# covering index of the report's slots (``ix_stats_slots_scope``, not withdrawn): a whole-table scan of the slots
# cost each report 100 ms on two cores. An over-capacity appointment the patient cancelled has its slot withdrawn:
# it is not counted among the cancellations through the link.
NOTICES_SQL = f"""
WITH {_SCOPE},
b AS (
    SELECT width_bucket(sl.start_at, s.bounds) AS m, bk.id, bk.status, bk.outcome, bk.cancelled_by,
           bk.created_at <= sl.start_at - make_interval(secs => :ahead) AS ahead
    FROM scope s
    JOIN slots sl ON sl.territory_code = s.code
    JOIN bookings bk ON bk.slot_id = sl.id
    WHERE sl.status <> 'withdrawn' AND sl.start_at >= s.bounds[1] AND sl.start_at < s.bounds[:width]
      AND sl.start_at >= CAST(:lowest AS timestamptz) AND sl.start_at < CAST(:highest AS timestamptz)
),
n AS (
    SELECT n.booking_id,
           bool_or(n.kind IN ('confirmation', 'moved') AND n.state = 'sent' AND n.channel = 'sms') AS sms,
           bool_or(n.kind IN ('confirmation', 'moved') AND n.state = 'sent' AND n.channel = 'email') AS email,
           count(*) FILTER (WHERE n.kind = 'reminder' AND n.state = 'sent') AS reminders
    FROM notices n WHERE n.booking_id IN (SELECT id FROM b)
    GROUP BY n.booking_id
)
SELECT b.m,
       count(*) FILTER (WHERE n.sms OR n.email) AS notified,
       count(*) FILTER (WHERE n.sms) AS notified_sms,
       count(*) FILTER (WHERE n.email) AS notified_email,
       coalesce(sum(n.reminders), 0) AS reminders_sent,
       count(*) FILTER (WHERE b.status = 'cancelled' AND b.cancelled_by = 'patient') AS cancelled_through_link,
       count(*) FILTER (WHERE b.status = 'active' AND b.ahead AND b.outcome IN ('fulfilled', 'noshow')
                        AND n.reminders > 0) AS reminded,
       count(*) FILTER (WHERE b.status = 'active' AND b.ahead AND b.outcome = 'noshow' AND n.reminders > 0)
           AS reminded_noshow,
       count(*) FILTER (WHERE b.status = 'active' AND b.ahead AND b.outcome IN ('fulfilled', 'noshow')
                        AND coalesce(n.reminders, 0) = 0) AS unreminded,
       count(*) FILTER (WHERE b.status = 'active' AND b.ahead AND b.outcome = 'noshow'
                        AND coalesce(n.reminders, 0) = 0) AS unreminded_noshow
FROM b LEFT JOIN n ON n.booking_id = b.id
GROUP BY GROUPING SETS ((1), ())
"""


async def notice_figures(
    session: AsyncSession, scope: Sequence[ScopeRow], first: dt.date, after: dt.date,
    given: dict[str, Any] | None = None,
) -> dict[str | None, dict[str, Any]]:
    """The patient notices' figures keyed like :func:`call_figures`."""
    params = await _params(session, scope, first, after, given)
    params["ahead"] = get_settings().reminder_before.total_seconds()
    rows = (await session.execute(text(NOTICES_SQL), params)).mappings().all()
    return {(_month_of(first, r["m"]) if r["m"] else None): dict(r) for r in rows}
