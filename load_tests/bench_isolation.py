"""A monthly report never delays an operator: the search's tail with and without uncached reports beside it.

Data: the France profile of ``bench_mixed`` (``--data FOLDER`` keeps and reuses the cluster).

1. The search's highest rate whose p99 stays ≤ 250 ms: 50 connections, think times down a ladder.
2. The search at 70 % of that rate (the think time found by short runs to give it, ±5 %), alternated
   ``--rounds`` times: alone, then with monthly reports beside it — 5 connections, each asking a report of the
   current month (never kept: it has not ended) of a random département about once a second (think 1 000 ms).
3. The figure: the search's p99 with the reports over its p99 alone, in the same round (target ≤ 1.3); the
   reports' own rate, p99 and the share told to come back later (503: their turn did not come within
   ``SNP_STATS_WAIT_SECONDS``).

Run: ``.venv/bin/python -m load_tests.bench_isolation [--data FOLDER] [--seconds 20] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import statistics
import sys
from typing import Any

import httpx

from load_tests.bench_mixed import _finish_wrk, _lines, _ready, _start_wrk, _tokens
from load_tests.harness import free_port, kept_or_fresh, record, served_app
from tools.simulator.plan import PROFILES

SEARCH_CONNECTIONS = 50
REPORT_CONNECTIONS = 5
REPORT_THINK_MS = 1000
P99_BUDGET_MS = 250
LADDER_MS = (200, 100, 50, 25, 10, 0)
# The search's load beside the reports: this share of its highest rate within the budget, found by runs of a few
# seconds (at most CALIBRATION_RUNS).
SHARE = 0.7
CALIBRATION_RUNS = 6
CALIBRATION_SECONDS = 5


def _search(base: str, lines: list[str], seconds: int, think: int) -> dict[str, Any]:
    proc, path = _start_wrk(base, lines, SEARCH_CONNECTIONS, seconds, think)
    return _finish_wrk(proc, path)


def _calibrated(base: str, lines: list[str], wanted: float) -> tuple[int, float]:
    """The think time that drives the search at ``wanted`` requests a second, and the rate it gave. Each
    connection's cycle is its request's latency and its think time, and the latency falls as the load does: the
    think time that the highest rate's latency says is too short (that once ran the "70 %" at 89 %). So: run it
    for a few seconds, take the cycle's other part as measured, and again, until the rate is within 5 %."""
    think, rate = 0, 0.0
    target_cycle_ms = SEARCH_CONNECTIONS / wanted * 1000
    for _ in range(CALIBRATION_RUNS):
        rate = _search(base, lines, CALIBRATION_SECONDS, think)["rate"]
        if abs(rate / wanted - 1) <= 0.05:
            break
        other_ms = SEARCH_CONNECTIONS / rate * 1000 - think
        think = max(0, round(target_cycle_ms - other_ms))
    return think, rate


def _both(base: str, search: list[str], reports: list[str], seconds: int, think: int) -> tuple[Any, Any]:
    first = _start_wrk(base, search, SEARCH_CONNECTIONS, seconds, think)
    second = _start_wrk(base, reports, REPORT_CONNECTIONS, seconds, REPORT_THINK_MS)
    return _finish_wrk(*first), _finish_wrk(*second)


def _line(label: str, r: dict[str, Any]) -> str:
    return (f"{label} {r['rate']:.0f}/s p50 {r['p50_us'] / 1000:.0f} p95 {r['p95_us'] / 1000:.0f} "
            f"p99 {r['p99_us'] / 1000:.0f} ms, statuses {r['statuses']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", help="keep the seeded cluster in this folder and reuse it")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    codes = sorted(PROFILES["france"].departements)
    tokens = _tokens(codes)
    month = dt.datetime.now(dt.UTC).strftime("%Y-%m")
    search = _lines("search", tokens, codes, [], month)
    rng = random.Random(7)
    reports = _lines("stats", tokens, rng.sample(codes, len(codes)), [], month)
    out: list[str] = []
    with kept_or_fresh(args.data) as server:
        asyncio.run(_ready(server.url(), 0.25, 13_000, 1_000_000))
        with served_app(server.url(), workers=args.workers, port=free_port()) as base:
            httpx.get(f"{base}/ready").raise_for_status()
            _search(base, search, 5, 0)  # warm-up
            ladder = []
            for think in LADDER_MS:
                r = _search(base, search, args.seconds, think)
                ladder.append((think, r))
                print(_line(f"  ladder think {think} ms:", r), flush=True)
            within = [(t, r) for t, r in ladder if r["p99_us"] / 1000 <= P99_BUDGET_MS and r["bad"] == 0]
            top_think, top = max(within, key=lambda x: x[1]["rate"]) if within else ladder[0]
            think, reached = _calibrated(base, search, SHARE * top["rate"])
            out.append(f"- search's highest rate with p99 ≤ {P99_BUDGET_MS} ms: {top['rate']:.0f}/s (think {top_think}"
                       f" ms, {SEARCH_CONNECTIONS} connections); the comparison runs at think {think} ms, found to "
                       f"give {reached:.0f}/s alone ({reached / top['rate']:.0%} of it)")
            ratios = []
            for n in range(args.rounds):
                alone = _search(base, search, args.seconds, think)
                beside, stats = _both(base, search, reports, args.seconds, think)
                ratio = beside["p99_us"] / max(alone["p99_us"], 1)
                ratios.append(ratio)
                for label, r in (("search alone:", alone), ("search beside the reports:", beside),
                                 ("reports:", stats)):
                    out.append(f"- round {n + 1}, " + _line(label, r))
                    print(out[-1], flush=True)
                out.append(f"- round {n + 1}: **search p99 with the reports / alone: {ratio:.2f}**")
                print(out[-1], flush=True)
            out.append(f"- **median of the rounds: {statistics.median(ratios):.2f}** (target ≤ 1.3)")
    record("A monthly report never delays an operator", "python -m load_tests.bench_isolation "
           + " ".join(sys.argv[1:]), out)


if __name__ == "__main__":
    main()
