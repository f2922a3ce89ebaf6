"""A second instance of the service, on a database of its own on the same server (another SAS service,
an agenda editor, the national platform's stand-in)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine


def sql(url: str, statement: str, autocommit: bool = False, **params: Any) -> list[tuple]:
    """One statement, committed; its rows."""
    async def run() -> list[tuple]:
        engine = create_async_engine(url, isolation_level="AUTOCOMMIT" if autocommit else "READ COMMITTED")
        async with engine.begin() as conn:
            result = await conn.execute(text(statement), params)
            rows = [tuple(r) for r in result.all()] if result.returns_rows else []
        await engine.dispose()
        return rows
    return asyncio.run(run())


@contextmanager
def database(database_url: str, name: str) -> Iterator[str]:
    """A new empty database beside the tests' one (the instance served on it migrates it); dropped after."""
    admin = make_url(database_url).set(database="postgres").render_as_string(hide_password=False)
    sql(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", autocommit=True)
    sql(admin, f"CREATE DATABASE {name}", autocommit=True)
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        sql(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", autocommit=True)
