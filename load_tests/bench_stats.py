"""Benchmark of the monthly report: one département-year and the whole of France for a year.

A fresh database is filled with SQL ``generate_series``: about 5.4 million calls in 2022 over the
101 départements (the Indre with its published 17 232), inserted in time order as a live service
would write them, about 1.02 decisions a call, and slots with bookings and outcomes. The report is
then asked through HTTP on loopback: ``territory=36`` (target ≤ 100 ms) and ``territory=FR``
(the national aggregate for admins, target ≤ 3 s).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.auth.tokens import create_token
from app.platform.config import Settings
from load_tests.harness import SECRET, kept_or_fresh, percentiles, record, served_app

NATIONAL_CALLS = 5_400_000
INDRE_CALLS = 17_232
SLOTS_PER_DAY_PER_DEPARTEMENT = 20
MAX_SECONDS = 300  # per measured series


def statements(national_calls: int = NATIONAL_CALLS) -> list[str]:
    """The generator's SQL, for ``national_calls`` calls in all (the Indre keeps its published year)."""
    return [
        # Calls of 2022, in time order; the Indre gets its published year, the others share the rest.
        f"""
        INSERT INTO calls (territory_code, channel, received_at, priority, intent_without_sas, status, source,
                           external_id, first_callback_at, closed_at)
        SELECT code, (ARRAY['15', '15', '15', '116117', 'urgences'])[1 + (n % 5)], received,
               (ARRAY[NULL, 'P2', 'P3', 'P1'])[1 + (n % 4)],
               (ARRAY['urgences', 'medecin', 'pharmacie', 'rien', 'inconnu', 'medecin'])[1 + (n % 6)],
               'closed', 'import', code || '-' || n,
               received + make_interval(mins => 3 + (n * 7919) % 140), received + interval '2 hours'
        FROM (
            SELECT t.code, g AS n,
                   timestamptz '2022-01-01 00:00:00+01'
                     + (random() * (timestamptz '2023-01-01 00:00:00+01' - timestamptz '2022-01-01 00:00:00+01'))
                     AS received
            FROM territories t
            CROSS JOIN LATERAL generate_series(
                1, CASE WHEN t.code = '36' THEN {INDRE_CALLS} ELSE ({national_calls} - {INDRE_CALLS}) / 100 END) g
            WHERE t.kind = 'departement'
        ) x
        ORDER BY received
        """,
        # One decision a call in the Indre's proportions...
        """
        INSERT INTO decisions (call_id, kind, other_reason, decided_at)
        SELECT id, k.kind, CASE WHEN k.kind = 'other'
                                THEN (ARRAY['no_answer', 'redirected_15', 'redirected_ed', 'other'])[1 + (h % 4)] END,
               received_at + interval '30 minutes'
        FROM (SELECT id, received_at, abs(hashtext(id::text)) AS h FROM calls) c
        CROSS JOIN LATERAL (SELECT CASE WHEN h % 1000 < 406 THEN 'advice' WHEN h % 1000 < 780 THEN 'slot'
                                        WHEN h % 1000 < 916 THEN 'prescription' ELSE 'other' END AS kind) k
        """,
        # ... and a prescription on top for 1.74 % of them (300 of the Indre's 17 232).
        """
        INSERT INTO decisions (call_id, kind, decided_at)
        SELECT id, 'prescription', received_at + interval '35 minutes'
        FROM calls WHERE abs(hashtext(id::text || 'bis')) % 10000 < 174
        """,
        # A practitioner and a site per département and slot series, one 30-minute slot a day at 18:00.
        f"""
        INSERT INTO practitioners (rpps, family_name, given_name, specialty)
        SELECT lpad((row_number() OVER ())::text, 11, '0'), 'Bench', 'Doc', 'Médecine générale'
        FROM territories t, generate_series(1, {SLOTS_PER_DAY_PER_DEPARTEMENT}) g WHERE t.kind = 'departement'
        """,
        """
        INSERT INTO sites (name, kind, address, postcode, lat, lon, territory_code)
        SELECT 'Site ' || code, 'msp', '1 place', '00000', 46.8, 1.69, code FROM territories WHERE kind = 'departement'
        """,
        f"""
        INSERT INTO slots (practitioner_id, site_id, territory_code, start_at, end_at, mode, status)
        SELECT p.id, s.id, s.territory_code,
               (day::date + time '18:00' + make_interval(mins => (p.rank % 7 * 30)::int)) AT TIME ZONE 'Europe/Paris',
               (day::date + time '18:30' + make_interval(mins => (p.rank % 7 * 30)::int)) AT TIME ZONE 'Europe/Paris',
               'in_person',
               CASE WHEN (p.rank + extract(doy FROM day)::int) % 3 = 0 THEN 'booked' ELSE 'free' END
        FROM (SELECT id, row_number() OVER (ORDER BY rpps) - 1 AS rank FROM practitioners) p
        JOIN (SELECT id, territory_code, row_number() OVER (ORDER BY territory_code) - 1 AS rank FROM sites) s
          ON s.rank = p.rank / {SLOTS_PER_DAY_PER_DEPARTEMENT}
        CROSS JOIN generate_series(date '2022-01-01', date '2022-12-31', interval '1 day') day
        ORDER BY 4
        """,
        # Booked slots get a booking (for a call of their département), most with an outcome.
        """
        INSERT INTO bookings (slot_id, call_id, status, outcome)
        SELECT s.id, c.id, 'active',
               (ARRAY['fulfilled', 'fulfilled', 'fulfilled', 'noshow', NULL])[1 + abs(hashtext(s.id::text)) % 5]
        FROM slots s
        CROSS JOIN LATERAL (SELECT id FROM calls WHERE territory_code = s.territory_code LIMIT 1) c
        WHERE s.status = 'booked'
        """,
        "VACUUM (ANALYZE)",
    ]


# Calls whose stored masks differ from their decisions folded afresh (must be 0).
DISAGREEING = """
SELECT count(*) FROM calls c
LEFT JOIN (SELECT call_id, bit_or(stats_kind_bit(kind)) AS kinds, bit_or(stats_reason_bit(other_reason)) AS reasons
           FROM decisions GROUP BY call_id) f ON f.call_id = c.id
WHERE c.decision_kinds <> coalesce(f.kinds, 0) OR c.other_reasons <> coalesce(f.reasons, 0)
"""


async def count_rows(url: str) -> dict[str, int]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            counts = {}
            for table in ("calls", "decisions", "slots", "bookings"):
                counts[table] = (await conn.exec_driver_sql(f"SELECT count(*) FROM {table}")).scalar_one()
            counts["disagreeing"] = (await conn.exec_driver_sql(DISAGREEING)).scalar_one()
            return counts
    finally:
        await engine.dispose()


async def generate(url: str, national_calls: int = NATIONAL_CALLS) -> dict[str, int]:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for statement in statements(national_calls):
                started = time.monotonic()
                await conn.exec_driver_sql(statement)
                print(f"  {statement.split()[0]} {statement.split()[2] if len(statement.split()) > 2 else ''}"
                      f" {time.monotonic() - started:.1f} s", flush=True)
    finally:
        await engine.dispose()
    return await count_rows(url)


def measure(base: str, headers: dict[str, str], territory: str, rounds: int) -> tuple[dict[str, float], dict]:
    params = {"territory": territory, "from": "2022-01", "to": "2022-12"}
    samples: list[float] = []
    body: dict = {}
    deadline = time.monotonic() + MAX_SECONDS
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        client.get("/v1/stats/monthly", params=params).raise_for_status()  # warm the cache once
        for _ in range(rounds):
            if time.monotonic() > deadline:
                break
            started = time.perf_counter()
            response = client.get("/v1/stats/monthly", params=params)
            samples.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            body = response.json()
    return percentiles(samples), body


async def is_empty(url: str) -> bool:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.exec_driver_sql("SELECT NOT EXISTS (SELECT 1 FROM calls)")).scalar_one()
    finally:
        await engine.dispose()


async def compact(url: str) -> int:
    """Fold the rollup's deltas, as the app does every few minutes (the report is exact either way)."""
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            return (await conn.exec_driver_sql("SELECT stats_compact()")).scalar_one()
    finally:
        await engine.dispose()


async def rollup_agrees(url: str) -> bool:
    """The national year from the rollup equals the same year read call by call, figure for figure."""
    from app.auth.principal import Principal
    from app.stats import repository, service

    engine = create_async_engine(url)
    try:
        async with AsyncSession(engine) as session, session.begin():
            subject = await service.subject_of(session, Principal(sub="bench", role="admin"), "FR")
            first, after = dt.date(2022, 1, 1), dt.date(2023, 1, 1)
            rolled = await repository.rollup_call_figures(session, subject.scope, first, after)
            counted = await repository.call_figures(session, subject.scope, first, after)
            return rolled == counted
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", help="keep the generated cluster in this folder and reuse it on the next run")
    folder = parser.parse_args().data
    with kept_or_fresh(folder) as server:
        url = server.url()
        started = time.monotonic()
        reused = folder is not None and not asyncio.run(is_empty(url))
        counts = asyncio.run(count_rows(url)) if reused else asyncio.run(generate(url))
        generated_in = time.monotonic() - started
        folded = asyncio.run(compact(url))
        token = create_token(Settings(jwt_secret=SECRET), role="admin")
        headers = {"Authorization": f"Bearer {token}"}
        with served_app(url, workers=1) as base:
            indre, indre_body = measure(base, headers, "36", rounds=50)
            france, france_body = measure(base, headers, "FR", rounds=5)
        agrees = asyncio.run(rollup_agrees(url))
    assert indre_body["total"]["calls"] == INDRE_CALLS
    assert agrees, "the national rollup disagrees with the calls"
    assert counts["disagreeing"] == 0, f"{counts['disagreeing']} calls whose masks disagree with their decisions"
    origin = "reused from an earlier run" if reused else f"generated in {generated_in:.0f} s"
    lines = [
        f"- data: {counts['calls']:,} calls, {counts['decisions']:,} decisions, {counts['slots']:,} slots, "
        f"{counts['bookings']:,} bookings (2022, 101 départements), {origin}; "
        f"calls whose decision masks disagree with their decisions: {counts['disagreeing']}; "
        f"rollup deltas folded before measuring: {folded:,}",
        f"- `GET /v1/stats/monthly?territory=36&from=2022-01&to=2022-12` (Indre, {INDRE_CALLS:,} calls, "
        f"in the national database): p50 {indre['p50']:.1f} ms, p95 {indre['p95']:.1f} ms, "
        f"max {indre['max']:.1f} ms over {indre['n']} requests (target ≤ 100 ms)",
        f"- `GET /v1/stats/monthly?territory=FR&from=2022-01&to=2022-12` (France, from the rollup, "
        f"{france_body['total']['calls']:,} calls): p50 {france['p50']:.0f} ms, p95 {france['p95']:.0f} ms, "
        f"max {france['max']:.0f} ms over {france['n']} requests (target ≤ 3 000 ms)",
        "- the national year read from the rollup equals the same year read call by call, every figure of "
        f"every month: {'yes' if agrees else 'NO'}",
    ]
    record("Statistics: monthly report", "python -m load_tests.bench_stats [--data FOLDER]", lines)


if __name__ == "__main__":
    sys.exit(main())
