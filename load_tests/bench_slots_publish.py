"""Bulk publishing: 100 000 slots for 5 000 doctors through POST /v1/slots/bulk on a served app.

Run: python -m load_tests.bench_slots_publish  (figures appended to load_tests/results.md)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import uuid

import asyncpg
import httpx

from app.auth.tokens import create_token
from app.platform.config import Settings
from load_tests.harness import SECRET, fresh_database, percentiles, record, served_app

DOCTORS = 5_000
SLOTS_PER_DOCTOR = 20
BATCH = 5_000
CONCURRENCY = 4
SITES = 50
TIME_LIMIT_S = 300


async def seed(dsn: str) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """Doctors serving the Indre and sites there, written directly (set-up, not measured)."""
    doctors = [uuid.uuid4() for _ in range(DOCTORS)]
    sites = [uuid.uuid4() for _ in range(SITES)]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.executemany(
            "INSERT INTO practitioners (id, rpps, family_name, given_name, specialty) "
            "VALUES ($1, $2, 'Bench', 'Doc', 'Médecine générale')",
            [(d, f"{10_000_000_000 + i}") for i, d in enumerate(doctors)],
        )
        await conn.executemany("INSERT INTO practitioner_territories VALUES ($1, '36')", [(d,) for d in doctors])
        await conn.executemany(
            "INSERT INTO sites (id, name, kind, address, postcode, lat, lon, territory_code) "
            "VALUES ($1, 'Cabinet', 'cabinet', '1 rue', '36000', 46.8, 1.7, '36')", [(s,) for s in sites],
        )
    finally:
        await conn.close()
    return doctors, sites


def bodies(doctors: list[uuid.UUID], sites: list[uuid.UUID]) -> list[bytes]:
    """Pre-encoded request bodies: 20 back-to-back 20-minute slots per doctor over the coming days."""
    origin = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
    items = []
    for n, doctor in enumerate(doctors):
        site = str(sites[n % len(sites)])
        for k in range(SLOTS_PER_DOCTOR):
            start = origin + dt.timedelta(days=k % 10, hours=8 + 2 * (k // 10), minutes=20 * (n % 3))
            items.append({"practitioner_id": str(doctor), "site_id": site, "start": start.isoformat(),
                          "end": (start + dt.timedelta(minutes=20)).isoformat(), "mode": "in_person"})
    return [json.dumps({"slots": items[i:i + BATCH]}).encode() for i in range(0, len(items), BATCH)]


async def publish(base: str, token: str, payloads: list[bytes]) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue = list(enumerate(payloads))
    deadline = time.monotonic() + TIME_LIMIT_S
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def worker(client: httpx.AsyncClient) -> None:
        while queue and time.monotonic() < deadline:
            _, body = queue.pop(0)
            began = time.perf_counter()
            response = await client.post("/v1/slots/bulk", content=body, headers=headers)
            latencies.append((time.perf_counter() - began) * 1000)
            if response.status_code != 201:
                raise RuntimeError(f"bulk refused: {response.status_code} {response.text[:300]}")

    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        began = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(CONCURRENCY)))
        return time.perf_counter() - began, latencies


async def count(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval("SELECT count(*) FROM slots")
    finally:
        await conn.close()


def main() -> None:
    with fresh_database() as server:
        dsn = server.url(driver="postgresql")
        doctors, sites = asyncio.run(seed(dsn))
        payloads = bodies(doctors, sites)
        token = create_token(Settings(jwt_secret=SECRET), role="admin", ttl_seconds=3600)
        with served_app(server.url(), workers=2) as base:
            elapsed, latencies = asyncio.run(publish(base, token, payloads))
        written = asyncio.run(count(dsn))
    rate = written / elapsed
    p = percentiles(latencies)
    record(
        "Slots: bulk publish (POST /v1/slots/bulk)",
        "python -m load_tests.bench_slots_publish",
        [
            f"- {written} slots for {DOCTORS} doctors in {len(payloads)} requests of {BATCH} "
            f"({CONCURRENCY} in flight, 2 uvicorn workers, fresh embedded PostgreSQL)",
            f"- **{rate:,.0f} slots/s** ({elapsed:.2f} s in all; target ≥ 20 000 slots/s)",
            f"- request latency ms: p50 {p['p50']:.0f}, p95 {p['p95']:.0f}, max {p['max']:.0f}",
        ],
    )


if __name__ == "__main__":
    main()
