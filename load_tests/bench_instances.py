"""The operators' mixed load on national data, through three topologies of the same machine, in one run.

1. one instance of 2 uvicorn workers, straight to PostgreSQL (this run's baseline);
2. two instances of 1 worker each behind PgBouncer (Debian's, session pooling);
3. the same two, their searches and statistics on a synchronous streaming replica (``snp db replica``).

Each topology gets the mix of ``bench_mixed`` (search 60 %, calls 10 %, queue 10 %, hold + book 8 %,
decisions 8 %, statistics 2 %, outcomes 2 %; 200 connections shared by one wrk process per kind and
instance) at two think times: 250 ms (a busy SAS room) and 0 (saturation). Everything runs on the same
2 cores: the figures say what the pooler and the replica cost here, not what more machines would give.
The replica is made from the seeded cluster by ``pg_basebackup`` and removed after; the primary is put
back to asynchronous commits whatever happens.

Run: ``.venv/bin/python -m load_tests.bench_instances [--data FOLDER] [--seconds 20]``.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import asyncpg

from app.platform.database import asyncpg_dsn
from load_tests.bench_mixed import CONNECTIONS, MIX, _ready, run_mix
from load_tests.harness import ROOT, free_port, kept_or_fresh, pgbouncer, record, served_app
from tools.simulator.plan import PROFILES

THINKS_MS = (250, 0)


def step(bases: list[str], url: str, codes: list[str], seconds: int, think: int) -> dict[str, Any]:
    """The mix at ``think`` ms, its connections and consumables shared between ``bases``."""
    results = run_mix(bases, url, codes, seconds, think)
    by_kind: dict[str, float] = {}
    for kind, r in results:
        by_kind[kind] = max(by_kind.get(kind, 0.0), r["p99_us"] / 1000)
    return {"think_ms": think, "rate": sum(r["rate"] for _, r in results), "worst_p99_ms": max(by_kind.values()),
            "bad": sum(r["bad"] for _, r in results), "p99_by_kind": by_kind}


@contextmanager
def replica_of(url: str, folder: Path) -> Iterator[str]:
    """A synchronous streaming replica of ``url`` in ``folder``, made with the command an operator types;
    on exit it is stopped and removed, and the primary commits without waiting for it again."""
    from app.platform.embedded import EmbeddedPostgres

    port = free_port()
    replica = EmbeddedPostgres(folder, port=port, listen_tcp=True)
    try:
        subprocess.run([sys.executable, "-m", "app.cli", "db", "replica", "--primary", asyncpg_dsn(url),
                        "--data", str(folder), "--port", str(port), "--synchronous"],
                       cwd=ROOT, check=True, capture_output=True, text=True)
        yield f"postgresql://postgres@127.0.0.1:{port}/snp"
    finally:
        asyncio.run(_asynchronous(url))
        replica.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def _asynchronous(url: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute("ALTER SYSTEM RESET synchronous_standby_names")
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", help="keep the seeded cluster in this folder and reuse it")
    parser.add_argument("--years", type=float, default=0.25, help="years of past calls to seed")
    parser.add_argument("--seconds", type=int, default=20, help="seconds per step")
    args = parser.parse_args()
    codes = sorted(PROFILES["france"].departements)
    rows: list[tuple[str, dict[str, Any]]] = []
    with kept_or_fresh(args.data) as server:
        url = server.url()
        reused, _ = asyncio.run(_ready(url, args.years, 13_000, 1_000_000))
        work = Path(tempfile.mkdtemp(prefix="snp-instances-"))
        try:
            with served_app(url, workers=2) as base:
                for think in THINKS_MS:
                    rows.append(("1 instance × 2 workers, direct", step([base], url, codes, args.seconds, think)))
                    print(rows[-1], flush=True)
            with pgbouncer(work / "pooler", server, pool_size=60) as pooled:
                with ExitStack() as stack:
                    bases = [stack.enter_context(served_app(pooled, workers=1)) for _ in range(2)]
                    for think in THINKS_MS:
                        rows.append(("2 instances × 1 worker, PgBouncer", step(bases, url, codes, args.seconds,
                                                                                think)))
                        print(rows[-1], flush=True)
                began = time.monotonic()
                with replica_of(url, work / "replica") as replica:
                    made_in = time.monotonic() - began
                    with ExitStack() as stack:
                        env = {"SNP_DATABASE_REPLICA_URL": replica}
                        bases = [stack.enter_context(served_app(pooled, workers=1, extra_env=env)) for _ in range(2)]
                        for think in THINKS_MS:
                            rows.append((f"2 instances × 1 worker, PgBouncer, reads on a synchronous replica "
                                         f"(made in {made_in:.0f} s)", step(bases, url, codes, args.seconds, think)))
                            print(rows[-1], flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    lines = [f"- data: France profile{' (reused)' if reused else ''}; {CONNECTIONS} connections, mix {MIX}, "
             f"{args.seconds} s per step, API, PostgreSQL(s), PgBouncer and wrk on the same 2 cores"]
    for name, r in rows:
        kinds = ", ".join(f"{k} {v:.0f}" for k, v in r["p99_by_kind"].items())
        lines.append(f"- {name}, think {r['think_ms']} ms: {r['rate']:.0f} requests/s, worst p99 "
                     f"{r['worst_p99_ms']:.0f} ms, errors {r['bad']} (p99 ms by kind: {kinds})")
    record("Topologies: one instance, two behind PgBouncer, reads on a replica",
           "python -m load_tests.bench_instances " + " ".join(sys.argv[1:]), lines)


if __name__ == "__main__":
    sys.exit(main())
