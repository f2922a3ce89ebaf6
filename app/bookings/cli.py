"""``snp bookings …``: housekeeping of the bookings domain."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from app.platform.config import get_settings

cli = typer.Typer(help="Réservations de créneaux SNP", no_args_is_help=True)
console = Console()


@cli.command("purge-keys")
def purge_keys(
    days: Annotated[int, typer.Option(min=1, help="forget answers older than this many days")] = 7,
) -> None:
    """Forget the stored answers of Idempotency-Keys older than DAYS."""
    from sqlalchemy import text

    from app.platform.database import make_engine, resolve_database_url

    settings = get_settings()

    async def _purge() -> int:
        url, _ = await asyncio.to_thread(resolve_database_url, settings)
        engine = make_engine(url, settings)
        try:
            async with engine.begin() as conn:
                result = await conn.execute(
                    text("DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(days => :d)"),
                    {"d": days},
                )
                return result.rowcount or 0
        finally:
            await engine.dispose()

    removed = asyncio.run(_purge())
    console.print(f"{removed} clé(s) d'idempotence supprimée(s) (plus de {days} jours)")


SQL_FOLDER = Path(__file__).resolve().parent / "sql"


@cli.command("render-sql")
def render_sql() -> None:
    """Write the booking path's statements, whole, into app/bookings/sql/ (a test fails when they drift)."""
    from app.bookings.repository import rendered

    SQL_FOLDER.mkdir(exist_ok=True)
    for name, statement in rendered().items():
        (SQL_FOLDER / f"{name}.sql").write_text(statement)
    console.print(f"wrote {len(rendered())} statements into {SQL_FOLDER}")
