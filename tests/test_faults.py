"""Faults as tests: PostgreSQL killed in the middle of a booking load, on a real served app.

The embedded server dies (SIGKILL to its postmaster) while 120 clients book; the app answers JSON
503 with Retry-After meanwhile, starts the server again by itself, and the clients retry with their
Idempotency-Key. Afterwards every booking a client was told about exists, none twice, and every
retry completed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from app.platform.embedded import EmbeddedPostgres
from tests.support.faults import _book_through
from tests.support.processes import free_port
from tests.support.snp_process import _serve, _stop, _wait_ready


@pytest.mark.slow
def test_an_app_worker_killed_mid_request_loses_no_acknowledged_booking() -> None:
    data_dir = tempfile.mkdtemp(prefix="snp-fault-")
    env = {"SNP_DATA_DIR": data_dir, "SNP_RATE_LIMITS_ENABLED": "false"}
    # Migrated once before two workers start (several instances migrating together is issue 15's).
    subprocess.run([sys.executable, "-m", "app.cli", "migrate"], env={**os.environ, **env, "SNP_JWT_SECRET": "x" * 40},
                   check=True, capture_output=True)
    port = free_port()
    proc = _serve(env, port, output=Path(data_dir) / "app.log", workers=2)
    try:
        _wait_ready(port, proc)
        workers = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(proc.pid)], capture_output=True,
                                 text=True).stdout.splitlines()
        victim = next(int(line.split()[0]) for line in workers if "resource_tracker" not in line)
        _book_through(f"http://127.0.0.1:{port}", EmbeddedPostgres(data_dir).url(),
                      lambda: os.kill(victim, signal.SIGKILL), "WORKER FAULT")
    finally:
        _stop(proc)
        EmbeddedPostgres(data_dir).stop()  # started by `snp migrate`, so no worker stops it
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.mark.slow
def test_postgresql_killed_under_booking_load_loses_no_acknowledged_booking() -> None:
    data_dir = tempfile.mkdtemp(prefix="snp-fault-")
    port = free_port()
    # The app's log goes to a file: a pipe nobody reads fills up and stops the app at its next line.
    proc = _serve({"SNP_DATA_DIR": data_dir, "SNP_EMBEDDED_SUPERVISE_SECONDS": "0.5",
                   "SNP_RATE_LIMITS_ENABLED": "false"}, port, output=Path(data_dir) / "app.log")
    pidfile = Path(data_dir) / "pg" / "postmaster.pid"
    try:
        _wait_ready(port, proc)
        _book_through(f"http://127.0.0.1:{port}", EmbeddedPostgres(data_dir).url(),
                      lambda: os.kill(int(pidfile.read_text().splitlines()[0]), signal.SIGKILL), "FAULT")
    finally:
        _stop(proc)
        shutil.rmtree(data_dir, ignore_errors=True)
