"""Property-based fuzzing of every operation with schemathesis against a real uvicorn on loopback:
whatever the payload, the answer is never a 5xx, and its status is one the OpenAPI document declares.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from sqlalchemy.ext.asyncio import create_async_engine

from app.auth import create_token
from app.config import Settings
from app.main import create_app
from tests.conftest import TEST_SECRET, reset_database
from tests.test_embedded import _free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def served(database_url: str) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "SNP_DATABASE_URL": database_url, "SNP_JWT_SECRET": TEST_SECRET,
           "SNP_MIGRATE_ON_START": "false", "SNP_RELAY_ENABLED": "false", "SNP_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"], cwd=ROOT, env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(base + "/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        asyncio.run(_cleanup(database_url))


async def _cleanup(url: str) -> None:
    engine = create_async_engine(url)
    await reset_database(engine)
    await engine.dispose()


schema = schemathesis.openapi.from_dict(create_app(Settings(env="test")).openapi())
ADMIN = create_token(Settings(jwt_secret=TEST_SECRET), role="admin", territories=["36"], ttl_seconds=86400)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_the_api_fail_with_a_server_error(case: schemathesis.Case, served: str) -> None:
    response = case.call(base_url=served, headers={"Authorization": f"Bearer {ADMIN}"})
    case.validate_response(response, checks=[not_a_server_error])
