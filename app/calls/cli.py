"""``snp purge``: empty the patient identity of old calls (counts, decisions and times stay)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.calls import service
from app.calls.schemas import PurgeResult
from app.platform.config import get_settings

console = Console()


async def _purge(days: int, record_days: int) -> PurgeResult:
    from app.platform.database import command_session

    async with command_session() as session:
        return await service.purge(session, None, days=days, record_days=record_days)


def purge(
    days: Annotated[
        int | None, typer.Option(min=1, help="retention in days (default SNP_RETENTION_DAYS, 90)")
    ] = None,
) -> None:
    """Empty names, phone, postcode and reason of calls received more than the retention ago."""
    settings = get_settings()
    result = asyncio.run(_purge(days or settings.retention_days, settings.record_retention_days))
    table = Table(title="Purge des données d'identité des patients")
    table.add_column("Rétention (jours)", justify="right")
    table.add_column("Appels reçus avant", justify="left")
    table.add_column("Appels purgés", justify="right")
    table.add_row(str(result.days), result.cutoff.strftime("%d/%m/%Y %H:%M UTC"), str(result.purged))
    console.print(table)


COMMANDS = [purge]
