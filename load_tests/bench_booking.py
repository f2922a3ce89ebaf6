"""Booking benchmark: 200 concurrent clients booking over 20 000 slots, then a double-booking check.

Run: ``.venv/bin/python -m load_tests.bench_booking`` (figures appended to load_tests/results.md).
Target on the 2-core machine: ≥ 500 bookings/s and zero double bookings.
``SNP_BENCH_LISTEN=1`` keeps a console's live stream (``GET /v1/stream``, Indre) open during the run and
counts what it is told: the slot events cost the booking path nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator

import asyncpg
import httpx

from app.auth.tokens import create_token
from app.platform.config import Settings
from app.platform.database import asyncpg_dsn
from load_tests.harness import SECRET, fresh_database, record, run_wrk, served_app

PRACTITIONERS = 200
SLOTS_PER_PRACTITIONER = 100  # 20 000 slots
CLIENTS = 200
CONTENDED_SHARE = 0.1  # this share of the requests aims at a slot another request also aims at
SECONDS = int(os.environ.get("SNP_BENCH_SECONDS", "20"))
LISTEN = os.environ.get("SNP_BENCH_LISTEN", "") == "1"

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
    conn = await asyncpg.connect(asyncpg_dsn(url))
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
    conn = await asyncpg.connect(asyncpg_dsn(url))
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


def _lines(targets: list[str], call_ids: list[str]) -> list[str]:
    """One booking request per target slot, each with its own call and Idempotency-Key."""
    token = create_token(Settings(env="test", jwt_secret=SECRET), role="regulator", territories=["36"])
    return [
        f"POST\t/v1/bookings\t{token}\tbench-{i}\t" + json.dumps({"slot_id": slot, "call_id": call_ids[i]})
        for i, slot in enumerate(targets)
    ]


@contextlib.contextmanager
def listening(base: str) -> Iterator[Counter[str]]:
    """A console of the Indre following the live stream meanwhile: the events it was told, by name."""
    told: Counter[str] = Counter()
    ready, stop = threading.Event(), threading.Event()
    token = create_token(Settings(env="test", jwt_secret=SECRET), role="operator", territories=["36"], sub="bench")

    def read() -> None:
        # Ended for lagging (a tick's burst beyond what it reads), it reconnects at once: the hub keeps
        # reading for it the whole run, which is the cost measured.
        with httpx.Client(base_url=base, timeout=None) as client:
            while not stop.is_set():
                with client.stream("GET", "/v1/stream", headers={"Authorization": f"Bearer {token}"}) as response:
                    for line in response.iter_lines():
                        if line.startswith("event:"):
                            told[line.split(":", 1)[1].strip()] += 1
                            ready.set()
                        if stop.is_set():
                            return

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    if not ready.wait(30):
        raise RuntimeError("the live stream did not open")
    try:
        yield told
    finally:
        stop.set()


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
            with listening(base) if LISTEN else contextlib.nullcontext(Counter()) as told:
                run = run_wrk(base, _lines(targets, call_ids), connections=CLIENTS, seconds=SECONDS)
                # what the console is told of the run's last bookings, a tick or two later
                if LISTEN:
                    time.sleep(2)
        checks = asyncio.run(verify(url))
    elapsed = run["duration_us"] / 1e6
    created = run["statuses"].get("201", 0)
    rate = created / elapsed
    if run["requests"] > len(targets):
        raise RuntimeError("the request list wrapped around: lengthen it or shorten the run")
    record(
        "Booking throughput (POST /v1/bookings)",
        ".venv/bin/python -m load_tests.bench_booking",
        [
            f"- data: {total_slots:,} free slots of {PRACTITIONERS} doctors; {len(targets):,} booking requests, "
            f"{extra:,} of them aimed at a slot another request also wants (each with its own call and "
            "Idempotency-Key)",
            f"- load: {CLIENTS} concurrent clients (wrk, C, on the same 2 cores), 2 uvicorn workers, "
            f"{run['requests']:,} requests in {elapsed:.1f} s",
            f"- throughput: {rate:.0f} bookings/s created ({run['rate']:.0f} requests/s) "
            f"(target ≥ 500/s: {'met' if rate >= 500 else 'NOT met'})",
            f"- latency ms: p50 {run['p50_us'] / 1000:.1f}, p95 {run['p95_us'] / 1000:.1f}, "
            f"p99 {run['p99_us'] / 1000:.1f}, max {run['max_us'] / 1000:.1f}",
            f"- statuses: {run['statuses']}; socket errors {run['errors']}",
            f"- checks (SQL): {checks} (double bookings must be 0)",
            *([f"- a console following the live stream meanwhile was told: {dict(sorted(told.items()))}"]
              if LISTEN else []),
        ],
    )


if __name__ == "__main__":
    main()
