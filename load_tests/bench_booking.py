"""Booking benchmark: 200 concurrent clients booking over 20 000 slots, then a double-booking check.

Run: ``.venv/bin/python -m load_tests.bench_booking`` (figures appended to load_tests/results.md).
Target on the 2-core machine: ≥ 500 bookings/s and zero double bookings.
"""

from __future__ import annotations

import asyncio
import random

import asyncpg
import httpx

from app.auth import create_token
from app.config import Settings
from load_tests.bench_search import _pg_dsn, drive
from load_tests.harness import SECRET, fresh_database, percentiles, record, served_app

PRACTITIONERS = 200
SLOTS_PER_PRACTITIONER = 100  # 20 000 slots
CLIENTS = 200
CONTENDED_SHARE = 0.1  # this share of the requests aims at a slot another request also aims at
MAX_SECONDS = 120

SEED_SQL = [
    """
    INSERT INTO practitioners (rpps, family_name, given_name, specialty)
    SELECT lpad(g::text, 11, '0'), 'Médecin ' || g, 'Prénom', 'Médecine générale' FROM generate_series(1, :n) g
    """,
    """
    INSERT INTO sites (name, kind, address, postcode, lat, lon, territory_code)
    SELECT 'Cabinet ' || rpps, 'cabinet', '1 rue de la Santé', '36000', 46.81, 1.69, '36' FROM practitioners
    """,
    """
    INSERT INTO slots (practitioner_id, site_id, territory_code, start_at, end_at, mode)
    SELECT p.id, si.id, '36', now() + interval '1 hour' + make_interval(mins => 20 * k),
           now() + interval '1 hour' + make_interval(mins => 20 * k + 20), 'in_person'
    FROM practitioners p JOIN sites si ON si.name = 'Cabinet ' || p.rpps
    CROSS JOIN generate_series(0, :per - 1) AS k
    """,
    """
    INSERT INTO calls (territory_code, channel, received_at, reason, patient_birth_year)
    SELECT '36', '15', now(), 'motif ' || g, 1950 + g % 70 FROM generate_series(1, :calls) g
    """,
    "ANALYZE",
]


async def seed(url: str, calls: int) -> tuple[list[str], list[str]]:
    conn = await asyncpg.connect(_pg_dsn(url))
    try:
        for sql in SEED_SQL:
            await conn.execute(sql.replace(":n", str(PRACTITIONERS)).replace(":per", str(SLOTS_PER_PRACTITIONER))
                               .replace(":calls", str(calls)))
        slots = [str(r[0]) for r in await conn.fetch("SELECT id FROM slots")]
        call_ids = [str(r[0]) for r in await conn.fetch("SELECT id FROM calls")]
        return slots, call_ids
    finally:
        await conn.close()


async def verify(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(_pg_dsn(url))
    try:
        doubles = await conn.fetchval(
            "SELECT count(*) FROM (SELECT slot_id FROM bookings WHERE status = 'active' "
            "GROUP BY slot_id HAVING count(*) > 1) d"
        )
        bookings = await conn.fetchval("SELECT count(*) FROM bookings")
        booked_slots = await conn.fetchval("SELECT count(*) FROM slots WHERE status = 'booked'")
        unmatched = await conn.fetchval(
            "SELECT count(*) FROM slots s WHERE s.status = 'booked' AND NOT EXISTS "
            "(SELECT 1 FROM bookings b WHERE b.slot_id = s.id AND b.status = 'active')"
        )
        events = await conn.fetchval("SELECT count(*) FROM outbox_events WHERE kind = 'booking.created'")
        decisions = await conn.fetchval("SELECT count(*) FROM decisions WHERE kind = 'slot'")
        return {"double_bookings": doubles, "bookings": bookings, "booked_slots": booked_slots,
                "booked_without_booking": unmatched, "events": events, "decisions": decisions}
    finally:
        await conn.close()


async def _load(
    base: str, targets: list[str], call_ids: list[str]
) -> tuple[list[float], dict[int | str, int], float]:
    token = create_token(Settings(env="test", jwt_secret=SECRET), role="regulator", territories=["36"])
    headers = {"Authorization": f"Bearer {token}"}

    async def one(http: httpx.AsyncClient, i: int) -> httpx.Response:
        body = {"slot_id": targets[i], "call_id": call_ids[i]}
        return await http.post("/v1/bookings", json=body, headers={**headers, "Idempotency-Key": f"bench-{i}"})

    return await drive(one, clients=CLIENTS, total=len(targets), max_seconds=MAX_SECONDS, base=base)


def main() -> None:
    rng = random.Random(5)
    total_slots = PRACTITIONERS * SLOTS_PER_PRACTITIONER
    extra = int(total_slots * CONTENDED_SHARE)
    with fresh_database() as server:
        url = server.url()
        slots, call_ids = asyncio.run(seed(url, total_slots + extra))
        targets = slots + rng.sample(slots, extra)
        rng.shuffle(targets)
        with served_app(url, workers=2) as base:
            samples, statuses, elapsed = asyncio.run(_load(base, targets, call_ids))
        checks = asyncio.run(verify(url))
    p = percentiles(samples)
    created = statuses.get(201, 0)
    rate = created / elapsed
    record(
        "Booking throughput (POST /v1/bookings)",
        ".venv/bin/python -m load_tests.bench_booking",
        [
            f"- data: {total_slots:,} free slots of {PRACTITIONERS} doctors; {len(targets):,} booking requests, "
            f"{extra:,} of them aimed at a slot another request also wants (each with its own call and "
            "Idempotency-Key)",
            f"- load: {CLIENTS} concurrent clients, 2 uvicorn workers, {p['n']:,} requests in {elapsed:.1f} s",
            f"- throughput: {rate:.0f} bookings/s created ({p['n'] / elapsed:.0f} requests/s) "
            f"(target ≥ 500/s: {'met' if rate >= 500 else 'NOT met'})",
            f"- latency ms: p50 {p['p50']:.1f}, p95 {p['p95']:.1f}, p99 {p['p99']:.1f}, max {p['max']:.1f}",
            f"- statuses: {dict(sorted(statuses.items(), key=str))}",
            f"- checks (SQL): {checks} (double bookings must be 0)",
        ],
    )


if __name__ == "__main__":
    main()
