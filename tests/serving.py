"""A real uvicorn serving the app on loopback against the test database (for browser and fuzz tests)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import TEST_SECRET, reset_database

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(database_url: str) -> Iterator[str]:
    """Serve the app; on exit stop it and empty what it committed."""
    port = free_port()
    env = {**os.environ, "SNP_DATABASE_URL": database_url, "SNP_JWT_SECRET": TEST_SECRET,
           "SNP_MIGRATE_ON_START": "false", "SNP_RELAY_ENABLED": "false", "SNP_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"], cwd=ROOT, env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise AssertionError("the app did not become ready")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        asyncio.run(_cleanup(database_url))


async def _cleanup(url: str) -> None:
    engine = create_async_engine(url)
    await reset_database(engine)
    await engine.dispose()
