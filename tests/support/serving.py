"""A real uvicorn serving the app on loopback against the test database (for browser and fuzz tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.database import TEST_SECRET, reset_database
from tests.support.processes import served_app


@contextmanager
def served(database_url: str, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """Serve the app (one worker, no relay); on exit stop it and empty what it committed."""
    # Without rate limits: the contract test sends thousands of requests (and of 401s) from one address.
    env = {"SNP_JWT_SECRET": TEST_SECRET, "SNP_RELAY_ENABLED": "false", "SNP_RATE_LIMITS_ENABLED": "false",
           **(extra_env or {})}
    try:
        with served_app(database_url, workers=1, extra_env=env) as base:
            yield base
    finally:
        empty(database_url)


@contextmanager
def sharing(base: str, database_url: str) -> Iterator[str]:
    """The session's served app (``shared_base``) for one module; what the module committed is emptied
    after it, as ``served`` does. Starting an app per module cost seconds each."""
    try:
        yield base
    finally:
        empty(database_url)


def empty(database_url: str) -> None:
    """Empty what a served app committed (tests that serve it themselves, with more workers or settings)."""
    asyncio.run(_cleanup(database_url))


async def _cleanup(url: str) -> None:
    engine = create_async_engine(url)
    await reset_database(engine)
    await engine.dispose()
