"""Shared pieces of the benchmarks: a fresh embedded PostgreSQL, a served app, the results file."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from tests.support.processes import (  # noqa: F401 - the names benchmarks and tools import from here
    ROOT,
    SECRET,
    free_port,
    fresh_database,
    kept_or_fresh,
    pgbouncer,
    pgbouncer_binary,
    served_app,
)

RESULTS = Path(__file__).resolve().parent / "results.md"


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    qs = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": qs[49], "p95": qs[94], "p99": qs[98], "max": ordered[-1], "n": len(ordered)}


def record(title: str, command: str, lines: list[str]) -> None:
    """Append a dated section to load_tests/results.md (and print it)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = re.sub(r"(--data[ =])\S+", r"\1FOLDER", command)  # where a cluster is kept is nobody's business
    machine = f"{os.cpu_count()} cores, Python {platform.python_version()}"
    block = [f"## {title}", "", f"- when: {stamp} ({machine})", f"- command: `{command}`", *lines, ""]
    text = "\n".join(block) + "\n"
    print(text)
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n\nFigures measured on the project's 2-core machine.\n\n")
    with RESULTS.open("a") as handle:
        handle.write(text)


WRK_SCRIPT = Path(__file__).resolve().parent / "wrk" / "replay.lua"


def ensure_wrk() -> str:
    """wrk (a C load generator, Debian package): the client must not eat the 2 cores the server needs."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, capture_output=True)
        if not shutil.which("wrk"):
            subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is needed for this benchmark (Debian package `wrk`)")
    return found


def run_wrk(
    base: str, lines: list[str], *, connections: int, seconds: int, think_ms: int = 0, threads: int = 2
) -> dict:
    """Replay ``lines`` (METHOD\\tPATH\\tTOKEN\\tKEY\\tBODY) with wrk; returns its JSON summary."""
    import json

    wrk = ensure_wrk()
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as handle:
        handle.write("\n".join(lines) + "\n")
        path = handle.name
    try:
        result = subprocess.run(
            [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "30s",
             "-s", str(WRK_SCRIPT), base, path, str(threads), str(think_ms)],
            capture_output=True, text=True, check=True, timeout=seconds + 120,
        )
    finally:
        os.unlink(path)
    summary = next(line for line in result.stdout.splitlines() if line.startswith("WRK_JSON "))
    data = json.loads(summary.removeprefix("WRK_JSON "))
    data["rate"] = data["requests"] / (data["duration_us"] / 1e6)
    return data
