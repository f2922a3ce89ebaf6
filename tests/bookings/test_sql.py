"""The booking path's statements, whole, in app/bookings/sql/: each file is what the app runs (a drift fails
here), and PostgreSQL plans it as written."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from app.bookings.repository import rendered
from app.platform.database import asyncpg_dsn, positional

FOLDER = Path(__file__).resolve().parents[2] / "app" / "bookings" / "sql"


def test_each_file_is_the_statement_the_app_runs() -> None:
    statements = rendered()
    assert sorted(p.stem for p in FOLDER.glob("*.sql")) == sorted(statements), "snp bookings render-sql"
    for name, text in statements.items():
        assert (FOLDER / f"{name}.sql").read_text() == text, f"{name}.sql drifted: run snp bookings render-sql"


@pytest.mark.parametrize("name", sorted(rendered()))
async def test_postgresql_plans_each_file_as_written(database_url: str, name: str) -> None:
    body = "\n".join(line for line in (FOLDER / f"{name}.sql").read_text().splitlines() if not line.startswith("--"))
    statement, _ = positional(body.rstrip().rstrip(";"))
    # A connection of its own, closed at once: what preparing locks is never left to the shared pool.
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        prepared = await connection.prepare(statement)
        assert prepared.get_parameters(), name
    finally:
        await connection.close()
