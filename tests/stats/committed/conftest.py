"""The statistics' tests on committed data (the kept reports, and the figures whose reports are kept): every
statement commits on its own, as the app's writers do (a report that counted its own unit of work's writes is never
kept, and the tests' usual transaction is one such unit). The ``connection`` and ``client`` of this folder's tests
are these, in place of the suite's."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine


class Committing:
    """``execute`` like a connection's, each statement in a transaction of its own, committed."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def execute(self, statement: Any, params: Any = None) -> Any:
        async with self.engine.begin() as connection:
            return await connection.execute(statement, params)


@pytest.fixture
def connection(engine: AsyncEngine) -> Committing:
    """Each statement committed on its own."""
    return Committing(engine)


@pytest.fixture
async def client(committed_client: Any) -> Any:
    """The app over committed data (the suite's ``committed_client``)."""
    return committed_client
