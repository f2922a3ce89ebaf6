"""For the tests of the kept reports: every statement commits on its own, as the app's writers do (a report that
counted its own unit of work's writes is never kept, and the tests' usual transaction is one such unit)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine


class Committing:
    """``execute`` like a connection's, each statement in a transaction of its own, committed."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def execute(self, statement: Any, params: Any = None) -> Any:
        async with self.engine.begin() as connection:
            return await connection.execute(statement, params)
