"""Shared by the tests of this folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.auth.tokens import create_token
from app.platform.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def _serve(env: dict[str, str], port: int, output: Path | None = None, workers: int = 1) -> subprocess.Popen:
    """``snp serve``; its log in a pipe (read when it fails to start), or in ``output`` when the test
    makes it log much (a pipe nobody reads fills up and then stops the app)."""
    full = {**os.environ, **env, "SNP_JWT_SECRET": SECRET, "SNP_LOG_JSON": "true"}
    if "SNP_DATABASE_URL" not in env:
        full.pop("SNP_DATABASE_URL", None)
    sink = open(output, "w") if output is not None else subprocess.PIPE  # noqa: SIM115 - lives with the process
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT, env=full, stdout=sink, stderr=subprocess.STDOUT, text=True,
    )


def _wait_ready(port: int, proc: subprocess.Popen, timeout: float = 90) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                return time.monotonic() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("not ready in time")


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _admin() -> dict[str, str]:
    token = create_token(Settings(jwt_secret=SECRET), role="admin")
    return {"Authorization": f"Bearer {token}"}


SECRET = "e2e-secret-e2e-secret-e2e-secret-e2e-secret"
