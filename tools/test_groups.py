"""The whole suite in two groups run side by side (``make test``): the tests that mostly wait on processes of
their own — a Patroni cluster electing a leader, a restore replaying WAL, PostgreSQL killed and started again,
a broker, a pooler — beside the rest, which mostly computes. Each group is an ordinary pytest session with its
own embedded PostgreSQL; the run fails when either does (no test collected is a failure too, exit code 5).

Run: ``python -m tools.test_groups [pytest options]``; given paths, ``make test PYTEST_ARGS=...`` runs pytest
itself instead.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

# What waits rather than computes: their own servers and clusters, their timeouts — and the contract's run of
# every role (schemathesis, about a third of the other group's time), which balances the two groups' lengths.
WAITING = ["tests/operations", "tests/test_faults.py", "tests/test_replica.py", "tests/test_pooler.py",
           "tests/test_embedded.py", "tests/simulator", "tests/hub", "tests/contract"]


def commands(options: list[str]) -> dict[str, list[str]]:
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    return {
        "waiting on their own servers": [*pytest, "--durations=10", *options, *WAITING],
        "the rest": [*pytest, "--durations=25", *options, *[f"--ignore={path}" for path in WAITING]],
    }


def main(options: list[str]) -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="snp-groups-") as folder:
        runs: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
        for name, command in commands(options).items():
            log = Path(folder) / f"{len(runs)}.log"
            runs[name] = (subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT), log)
        codes = {name: process.wait() for name, (process, _) in runs.items()}
        for name, (_, log) in runs.items():
            print(f"\n========== {name}: exit code {codes[name]} ==========", flush=True)
            sys.stdout.write(log.read_text(errors="replace"))
    print(f"\n========== both groups in {time.monotonic() - started:.0f} s: "
          + ", ".join(f"{name} {code}" for name, code in codes.items()), flush=True)
    failed = [code for code in codes.values() if code != 0]
    return failed[0] if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
