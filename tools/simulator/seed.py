"""``python -m tools.simulator seed``: a database the size of France for the benchmarks, in minutes.

Practitioners and their sites (small, made here with their RPPS keys) go in by COPY; the bulk — the
free slots to come, the past years of calls with their decisions, the recent bookings with outcomes —
is made by PostgreSQL itself (``generate_series``), which is faster than any client could ship the
rows: nothing crosses the wire but the statements. Every constraint and trigger of the schema runs as
it does for the API (no slot of a practitioner overlaps another; the report's per-call facts and the
national rollup are kept by their triggers), so what is measured afterwards is what a service that had
lived those years would hold.

The mix is the Indre's (per call: advice 40.6 %, slot 37.4 %, prescription 11.9 %, other 8.4 %, advice
and a prescription 1.7 %), the volume the profile's (France: about 450 000 calls a month); seeding asks
for an empty database.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg

from app.platform.database import asyncpg_dsn
from app.reference.identifiers import luhn_key
from tools.simulator.plan import POSTCODES, Profile

SITE_KINDS = ("msp", "cabinet", "centre_sante", "sos_medecins")
# What a profile seeds unless told otherwise: the national platform's 13 000 professionals and a million
# free slots; for the Indre, its share of them.
DEFAULTS = {"france": (13_000, 1_000_000), "indre": (130, 10_000)}
SLOTS_PER_EVENING = 6  # 18:00–20:00, 20 minutes each
HORIZON_DAYS = 89  # the free slots lie within the publishing horizon (90 days)
BOOKED_DAYS = 90  # the calls of the last 90 days that chose a slot have their booking and outcome


def allot(total: int, weights: dict[str, float]) -> dict[str, int]:
    """``total`` shared by weight (largest remainders), at least one each."""
    whole = sum(weights.values())
    exact = {k: max(1.0, total * w / whole) for k, w in weights.items()}
    given = {k: int(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: exact[k] - given[k], reverse=True)[: max(0, total - sum(given.values()))]:
        given[k] += 1
    return given


def _statements(years: float, scale: float, free_slots: int, per_evening: int) -> list[tuple[str, str]]:
    return [
        ("free slots", f"""
        INSERT INTO slots (practitioner_id, site_id, territory_code, start_at, end_at, mode, source)
        SELECT p.id, p.site_id, p.territory_code, s.start_at, s.start_at + interval '20 minutes', 'in_person', 'bulk'
        FROM (SELECT pt.practitioner_id AS id, si.id AS site_id, pt.territory_code,
                     row_number() OVER (ORDER BY pt.practitioner_id) AS rank
              FROM practitioner_territories pt JOIN sites si ON si.name = 'Seed ' || pt.practitioner_id) p
        CROSS JOIN LATERAL (
            SELECT ((current_date + 1 + ((p.rank * 13 + d) % {HORIZON_DAYS})::int) + time '18:00'
                    + make_interval(mins => 20 * i)) AT TIME ZONE 'Europe/Paris' AS start_at
            FROM generate_series(0, {per_evening} - 1) d, generate_series(0, {SLOTS_PER_EVENING - 1}) i) s
        LIMIT {free_slots}
        """),
        ("calls", f"""
        INSERT INTO calls (territory_code, channel, received_at, priority, intent_without_sas, status, source,
                           external_id, first_callback_at, closed_at)
        SELECT code, (ARRAY['15', '15', '15', '15', '116117', 'urgences', '15', 'professionnel'])[1 + (n % 8)],
               received, (ARRAY['P2', 'P3', 'P1', 'P2'])[1 + (n % 4)],
               (ARRAY['urgences', 'medecin', 'pharmacie', 'rien', 'inconnu', 'medecin'])[1 + (n % 6)],
               'closed', 'import', 'seed-' || code || '-' || n,
               received + make_interval(mins => 3 + (n * 7919) % 140), received + interval '2 hours'
        FROM (
            SELECT s.code, g AS n, now() - interval '3 hours'
                     - random() * make_interval(days => ({years} * 365.25)::int) AS received
            FROM seed_volumes s CROSS JOIN LATERAL generate_series(1, ceil(s.monthly * 12 * {years} * {scale})::int) g
        ) x
        ORDER BY received
        """),
        ("decisions", """
        INSERT INTO decisions (call_id, kind, other_reason, decided_at)
        SELECT id, k.kind,
               CASE WHEN k.kind = 'other'
                    THEN (ARRAY['no_answer', 'no_answer', 'redirected_15', 'redirected_ed', 'other'])[1 + (h % 5)] END,
               received_at + interval '30 minutes'
        FROM (SELECT id, received_at, abs(hashtext(id::text)) AS h FROM calls WHERE source = 'import') c
        CROSS JOIN LATERAL (SELECT CASE WHEN h % 10000 < 4234 THEN 'advice' WHEN h % 10000 < 7970 THEN 'slot'
                                        WHEN h % 10000 < 9162 THEN 'prescription' ELSE 'other' END AS kind) k
        """),
        ("second decisions", """
        INSERT INTO decisions (call_id, kind, decided_at)
        SELECT c.id, 'prescription', c.received_at + interval '35 minutes'
        FROM calls c JOIN decisions d ON d.call_id = c.id AND d.kind = 'advice'
        WHERE abs(hashtext(c.id::text || 'bis')) % 10000 < 410
        """),
        # The recent slot orientations: a slot of a doctor of the département the day after the call, booked
        # for it, most with an outcome. Doctors take the calls in turn, so one doctor's slots lie days apart.
        ("booked slots", f"""
        WITH oriented AS (
            SELECT c.id AS call_id, c.territory_code, c.received_at,
                   row_number() OVER (PARTITION BY c.territory_code ORDER BY c.received_at) - 1 AS rn
            FROM calls c JOIN decisions d ON d.call_id = c.id AND d.kind = 'slot'
            WHERE c.received_at > now() - interval '{BOOKED_DAYS} days'),
        doctors AS (
            SELECT pt.practitioner_id, si.id AS site_id, pt.territory_code,
                   row_number() OVER (PARTITION BY pt.territory_code ORDER BY pt.practitioner_id) - 1 AS r,
                   count(*) OVER (PARTITION BY pt.territory_code) AS n
            FROM practitioner_territories pt JOIN sites si ON si.name = 'Seed ' || pt.practitioner_id)
        INSERT INTO slots (practitioner_id, site_id, territory_code, start_at, end_at, mode, status, source, source_key)
        SELECT d.practitioner_id, d.site_id, o.territory_code, t.start_at, t.start_at + interval '20 minutes',
               'in_person', 'booked', 'bulk', o.call_id::text
        FROM oriented o JOIN doctors d ON d.territory_code = o.territory_code AND d.r = o.rn % d.n
        CROSS JOIN LATERAL (SELECT date_trunc('day', o.received_at) + interval '1 day 8 hours'
                                   + make_interval(mins => 20 * ((o.rn / d.n) % 36)::int) AS start_at) t
        ON CONFLICT DO NOTHING
        """),
        ("bookings", """
        INSERT INTO bookings (slot_id, call_id, status, outcome, created_at, created_by)
        SELECT s.id, CAST(s.source_key AS uuid), 'active',
               (ARRAY['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled',
                      'fulfilled', 'noshow', NULL])[1 + abs(hashtext(s.id::text)) % 10],
               s.start_at - interval '1 day', 'seed'
        FROM slots s WHERE s.status = 'booked' AND s.source_key IS NOT NULL
        """),
        ("statistics of the bookings", "ANALYZE bookings, slots"),  # else the next join is planned blind
        ("slot decisions linked", """
        UPDATE decisions d SET booking_id = b.id FROM bookings b
        WHERE d.call_id = b.call_id AND d.kind = 'slot' AND d.booking_id IS NULL AND b.created_by = 'seed'
        """),
        # The national rollup's deltas folded, as the app's compactor does every few minutes: a service that
        # had lived these years would hold them folded (and a first fold of years would outlast a round).
        ("rollup folded", "SELECT stats_compact()"),
        ("statistics", "VACUUM (ANALYZE)"),
    ]


async def seed(url: str, profile: Profile, *, practitioners: int, free_slots: int, years: float, scale: float = 1.0,
               say: Callable[[str], Any] = print) -> dict[str, Any]:
    """Fill an empty database; the counts of what is there, and the seconds each step took."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    timings: dict[str, float] = {}
    try:
        filled = await connection.fetchval(
            "SELECT EXISTS (SELECT 1 FROM calls) OR EXISTS (SELECT 1 FROM practitioners)")
        if filled:
            raise ValueError("the database already holds calls or practitioners: seed an empty one")
        started = time.monotonic()
        doctors, sites, links = _doctors(profile, practitioners)
        await connection.copy_records_to_table(
            "practitioners", records=doctors,
            columns=["id", "rpps", "family_name", "given_name", "specialty", "specialty_code"])
        await connection.copy_records_to_table(
            "sites", records=sites, columns=["id", "name", "kind", "address", "postcode", "lat", "lon",
                                             "territory_code"])
        await connection.copy_records_to_table("practitioner_territories", records=links,
                                               columns=["practitioner_id", "territory_code"])
        # each doctor's site is his own (over-capacity appointments are recorded only there)
        await connection.copy_records_to_table("practitioner_sites", records=[(d[0], si[0]) for d, si in
                                                                               zip(doctors, sites, strict=True)],
                                               columns=["practitioner_id", "site_id"])
        timings["practitioners and sites (COPY)"] = time.monotonic() - started
        say(f"  {len(doctors):,} practitioners and their sites: {timings['practitioners and sites (COPY)']:.1f} s")
        await connection.execute("CREATE TEMPORARY TABLE seed_volumes (code text, monthly float8)")
        await connection.copy_records_to_table("seed_volumes", records=list(profile.monthly_calls.items()))
        per_evening = min(HORIZON_DAYS, -(-free_slots // max(1, len(doctors) * SLOTS_PER_EVENING)))
        for name, statement in _statements(years, scale, free_slots, per_evening):
            started = time.monotonic()
            await connection.execute(statement, timeout=None)
            timings[name] = time.monotonic() - started
            say(f"  {name}: {timings[name]:.1f} s")
        counts = {}
        for table in ("practitioners", "sites", "slots", "calls", "decisions", "bookings"):
            counts[table] = await connection.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608 - our names
        counts["free_slots"] = await connection.fetchval(
            "SELECT count(*) FROM slots WHERE status = 'free' AND start_at > now()")
        return {"counts": counts, "seconds": timings}
    finally:
        await connection.close()


Rows = list[tuple[Any, ...]]


def _doctors(profile: Profile, total: int) -> tuple[Rows, Rows, Rows]:
    doctors: Rows = []
    sites: Rows = []
    links: Rows = []
    number = 0
    for departement, count in allot(total, profile.monthly_calls).items():
        places = POSTCODES.get(departement) or [("75001", 48.86, 2.34)]
        for i in range(count):
            number += 1
            body = f"17{number:08d}"
            doctor = uuid.uuid4()
            postcode, lat, lon = places[i % len(places)]
            doctors.append((doctor, body + luhn_key(body), f"Seed{number}", "Dominique", "Médecine générale", "SM54"))
            sites.append((uuid.uuid4(), f"Seed {doctor}", SITE_KINDS[i % len(SITE_KINDS)], f"{i + 1} rue de la Gare",
                          postcode, lat, lon, departement))
            links.append((doctor, departement))
    return doctors, sites, links
