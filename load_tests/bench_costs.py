"""What one request of each hot route costs, in CPU microseconds: the API's workers, and PostgreSQL's processes.

Data: the France profile of ``bench_mixed`` (``--data FOLDER`` keeps and reuses the cluster). Each route is
driven alone, 20 connections without think time, ``--seconds`` long; the CPU time (user + system, from
``/proc/<pid>/stat``) the API's worker processes and the cluster's processes spent meanwhile is divided by the
requests answered. Routes: search, queue (the waiting calls), call creation, hold, booking (each hold and
booking on its own prepared call and free slot, never used twice), and the monthly report of a département for the
current month (never kept: it has not ended).

Run: ``.venv/bin/python -m load_tests.bench_costs [--data FOLDER] [--seconds 10]``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import httpx

from load_tests.bench_mixed import _finish_wrk, _lines, _prepare, _ready, _start_wrk, _tokens, _workers, children
from load_tests.harness import free_port, kept_or_fresh, record, served_app
from tools.simulator.plan import PROFILES

CONNECTIONS = 20
TICK = os.sysconf("SC_CLK_TCK")
ROUTES = ("search", "queue", "call", "hold", "book", "stats")


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile (a PostgreSQL backend that ended)
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def _cluster(data_dir: Path) -> list[int]:
    """The postmaster and every process it started (backends, walwriter...), as of now."""
    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    return [postmaster, *children(postmaster)]


def _spy(folder: str, route: str, pids: list[int], seconds: int) -> list[subprocess.Popen[bytes]]:
    Path(folder).mkdir(parents=True, exist_ok=True)
    spy = str(Path(sys.executable).parent / "py-spy")
    return [subprocess.Popen([spy, "record", "--format", "raw", "--nonblocking", "--duration", str(seconds),
                              "--pid", str(pid), "--output", str(Path(folder) / f"{route}-{pid}.txt")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for pid in pids]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", help="keep the seeded cluster in this folder and reuse it")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--routes", default=",".join(ROUTES), help="which routes, comma-separated")
    parser.add_argument("--spy", help="also sample the API's workers with py-spy into this folder "
                        "(<route>-<pid>.txt, collapsed stacks; the CPU figures then include py-spy's pauses)")
    args = parser.parse_args()
    codes = sorted(PROFILES["france"].departements)
    tokens = _tokens(codes)
    month = dt.datetime.now(dt.UTC).strftime("%Y-%m")
    out: list[str] = []
    with kept_or_fresh(args.data) as server:
        url = server.url()
        asyncio.run(_ready(url, 0.25, 13_000, 1_000_000))
        port = free_port()
        with served_app(url, workers=args.workers, port=port) as base:
            httpx.get(f"{base}/ready").raise_for_status()
            workers = _workers(port)
            wanted = 3000 * args.seconds  # a hold now runs past 2 000 a second
            items = asyncio.run(_prepare(url, {"hold": wanted, "book": wanted, "decision": 0, "outcome": 0}))
            for route in args.routes.split(","):
                lines = _lines(route, tokens, codes, items.get(route, []), month)
                proc, path = _start_wrk(base, lines[:200], CONNECTIONS, 2, 0) if route not in ("hold", "book") \
                    else (None, None)
                if proc is not None:
                    _finish_wrk(proc, path)  # warm-up (not for the consumables)
                pg_pids = _cluster(server.pgdata)
                api_before, pg_before = _cpu_seconds(workers), _cpu_seconds(pg_pids)
                spies = _spy(args.spy, route, workers, args.seconds) if args.spy else []
                proc, path = _start_wrk(base, lines, CONNECTIONS, args.seconds, 0)
                result = _finish_wrk(proc, path)
                for spy in spies:
                    spy.wait()
                api_spent = _cpu_seconds(workers) - api_before
                pg_spent = _cpu_seconds(sorted(set(pg_pids) | set(_cluster(server.pgdata)))) - pg_before
                answered = sum(n for s, n in result["statuses"].items() if s.startswith("2"))
                short = route in ("hold", "book") and result["requests"] > len(lines)
                line = (f"- {route}: {result['rate']:.0f}/s, p99 {result['p99_us'] / 1000:.0f} ms; CPU per request: "
                        f"**API {api_spent / max(answered, 1) * 1e6:.0f} µs**, PostgreSQL "
                        f"{pg_spent / max(answered, 1) * 1e6:.0f} µs ({answered} answered 2xx of "
                        f"{result['requests']}{', RAN SHORT' if short else ''}; statuses {result['statuses']})")
                out.append(line)
                print(line, flush=True)
    record("CPU per request of each hot route", "python -m load_tests.bench_costs " + " ".join(sys.argv[1:]), out)


if __name__ == "__main__":
    main()
