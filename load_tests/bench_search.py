"""Search benchmark: 1 000 000 free slots over the 101 départements and 4 weeks, 50 concurrent clients.

Run: ``.venv/bin/python -m load_tests.bench_search`` (figures appended to load_tests/results.md).
Target on the 2-core machine: p95 ≤ 25 ms.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
from urllib.parse import urlencode

import asyncpg

from app.auth.tokens import create_token
from app.platform.config import Settings
from app.platform.database import asyncpg_dsn
from load_tests.harness import SECRET, fresh_database, record, run_wrk, served_app

PRACTITIONERS = 2000
SLOTS_PER_PRACTITIONER = 500  # 2000 × 500 = 1 000 000 slots, one every 80 minutes over 4 weeks
CLIENTS = 50
MAX_SECONDS = 40
THINK_MS = 500

# Practitioners spread over the départements; each with one site near the centre of metropolitan France
# (random within ±2°, enough for radius queries to find and to miss).
SEED_SQL = [
    """
    INSERT INTO practitioners (rpps, family_name, given_name, specialty)
    SELECT lpad(g::text, 11, '0'), 'Médecin ' || g, 'Prénom', 'Médecine générale'
    FROM generate_series(1, :n) AS g
    """,
    """
    INSERT INTO practitioner_territories (practitioner_id, territory_code)
    SELECT p.id, t.code FROM (SELECT id, row_number() OVER (ORDER BY rpps) AS r FROM practitioners) p
    JOIN (SELECT code, row_number() OVER (ORDER BY code) - 1 AS i FROM territories) t ON t.i = p.r % 101
    """,
    """
    INSERT INTO sites (name, kind, address, postcode, lat, lon, territory_code)
    SELECT 'Cabinet ' || p.rpps, 'cabinet', p.rpps || ' rue de la Santé', '36000',
           46.5 + (random() * 4 - 2), 2.5 + (random() * 4 - 2), pt.territory_code
    FROM practitioners p JOIN practitioner_territories pt ON pt.practitioner_id = p.id
    """,
    """
    INSERT INTO slots (practitioner_id, site_id, territory_code, start_at, end_at, mode, audience)
    SELECT s.pid, s.site_id, s.territory_code,
           date_trunc('hour', now()) + interval '1 hour' + make_interval(mins => (80 * k + (s.r % 4) * 20)::int),
           date_trunc('hour', now()) + interval '1 hour' + make_interval(mins => (80 * k + (s.r % 4) * 20 + 20)::int),
           (ARRAY['in_person','in_person','in_person','home_visit','teleconsultation'])[1 + ((k + s.r) % 5)::int],
           (ARRAY['all','all','all','all','all','all','all','all','children','ehpad'])[1 + ((k * 7 + s.r) % 10)::int]
    FROM (SELECT p.id AS pid, si.id AS site_id, si.territory_code,
                 row_number() OVER (ORDER BY p.rpps) AS r
          FROM practitioners p JOIN sites si ON si.name = 'Cabinet ' || p.rpps) s
    CROSS JOIN generate_series(0, :per - 1) AS k
    """,
    "ANALYZE",
]


async def seed(url: str) -> float:
    started = time.perf_counter()
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        for sql in SEED_SQL:
            sql = sql.replace(":n", str(PRACTITIONERS)).replace(":per", str(SLOTS_PER_PRACTITIONER))
            await conn.execute(sql)
    finally:
        await conn.close()
    return time.perf_counter() - started


async def explain(url: str) -> str:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch(
            "EXPLAIN ANALYZE SELECT s.id FROM slots s JOIN sites si ON si.id = s.site_id "
            "WHERE s.status = 'free' AND s.territory_code = '36' AND s.start_at > now() "
            "AND (s.held_until IS NULL OR s.held_until <= now()) ORDER BY s.start_at, s.id LIMIT 21"
        )
        return "\n".join(r[0] for r in rows)
    finally:
        await conn.close()


def _search_lines(codes: list[str], count: int) -> list[str]:
    """Prepared searches: a random département, a 48 h window within the 4 weeks, 1/3 with a 150 km
    radius, 1/5 with a mode, 1/7 with an audience; each with a token of that département."""
    settings = Settings(env="test", jwt_secret=SECRET)
    tokens = {c: create_token(settings, role="operator", territories=[c], ttl_seconds=7200) for c in codes}
    rng = random.Random(36)
    now = dt.datetime.now(dt.UTC)
    lines = []
    for i in range(count):
        code = rng.choice(codes)
        start = now + dt.timedelta(hours=rng.randint(0, 24 * 20))
        params: dict[str, str | float] = {"territory": code, "start_from": start.isoformat(),
                                          "start_to": (start + dt.timedelta(hours=48)).isoformat()}
        if i % 3 == 1:
            params.update(near_lat=46.5, near_lon=2.5, radius_km=150)
        if i % 5 == 2:
            params["mode"] = "home_visit"
        if i % 7 == 3:
            params["audience"] = "children"
        lines.append(f"GET\t/v1/slots/search?{urlencode(params)}\t{tokens[code]}\t\t")
    return lines


def _latency_line(run: dict, label: str) -> str:
    return (
        f"- {label}: {run['requests']:,} requests in {run['duration_us'] / 1e6:.1f} s ({run['rate']:.0f} req/s); "
        f"latency ms: p50 {run['p50_us'] / 1000:.1f}, p95 {run['p95_us'] / 1000:.1f}, "
        f"p99 {run['p99_us'] / 1000:.1f}, max {run['max_us'] / 1000:.1f}; statuses {run['statuses']}; "
        f"socket errors {run['errors']}"
    )


def main() -> None:
    with fresh_database() as server:
        url = server.url()
        seeded_in = asyncio.run(seed(url))
        print(f"seeded in {seeded_in:.0f} s", flush=True)
        plan = asyncio.run(explain(url))
        codes = asyncio.run(_codes(url))
        count = asyncio.run(_count(url))
        lines = _search_lines(codes, 20_000)
        with served_app(url, workers=2) as base:
            run_wrk(base, lines, connections=CLIENTS, seconds=10)  # warm-up: connections, caches, plans
            # 50 people at their consoles: each searches, reads for about THINK_MS, searches again.
            paced = run_wrk(base, lines, connections=CLIENTS, seconds=MAX_SECONDS, think_ms=THINK_MS)
            # The same 50 clients with no pause at all: the saturation throughput of the 2-core machine.
            flat_out = run_wrk(base, lines, connections=CLIENTS, seconds=MAX_SECONDS // 2)
    p95 = paced["p95_us"] / 1000
    uses_index = "ix_slots_free_territory_start" in plan
    record(
        "Slot search (GET /v1/slots/search)",
        ".venv/bin/python -m load_tests.bench_search",
        [
            f"- data: {count:,} free slots ({PRACTITIONERS} doctors × {SLOTS_PER_PRACTITIONER}) over the 101 "
            f"départements and 4 weeks, generated with generate_series in {seeded_in:.0f} s",
            "- queries: a random département, a 48 h window within the 4 weeks, 1/3 with a 150 km radius, "
            "1/5 with a mode, 1/7 with an audience; 2 uvicorn workers; load from wrk (C) on the same 2 cores",
            _latency_line(paced, f"{CLIENTS} concurrent clients, each pausing {THINK_MS // 2}–{THINK_MS * 3 // 2} ms "
                                 "between searches"),
            _latency_line(flat_out, f"{CLIENTS} concurrent clients without pause (saturation)"),
            f"- target p95 ≤ 25 ms with {CLIENTS} paced clients: {'met' if p95 <= 25 else 'NOT met'}",
            f"- plan uses ix_slots_free_territory_start: {'yes' if uses_index else 'NO'}",
        ],
    )


async def _codes(url: str) -> list[str]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return [r[0] for r in await conn.fetch("SELECT code FROM territories WHERE kind = 'departement'")]
    finally:
        await conn.close()


async def _count(url: str) -> int:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM slots"))
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
