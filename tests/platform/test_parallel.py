"""Two reads at once (``Parallel.both``, the reports' calls and slots): when one fails, the other does not run on."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.platform.database import Parallel, make_sessionmaker


async def test_a_failed_read_cancels_the_other_and_its_statement(engine) -> None:
    """Left running, the other read held its connection and kept PostgreSQL busy for a report that had failed
    (and given its turn to the next): it is cancelled, its statement with it, before the error goes on."""
    marker = f"parallel-{time.monotonic_ns()}"

    async def fails(session) -> None:
        await session.execute(text("SELECT 1 / 0"))

    async def long(session) -> None:
        await session.execute(text(f"SELECT pg_sleep(30) /* {marker} */"))

    began = time.monotonic()
    with pytest.raises(DBAPIError, match="division by zero"):
        await Parallel(make_sessionmaker(engine)).both(long, fails)
    assert time.monotonic() - began < 5
    async with engine.connect() as watcher:
        running = (await watcher.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE :q AND pid <> pg_backend_pid()"
        ), {"q": f"%{marker}%"})).scalar_one()
    assert running == 0
