"""``snp agenda sync``: keep one agenda — pull a practitioner's free SNP slots from his agenda editor's
FHIR slot search (the ANS guide's), and publish, withdraw or give back ours to match."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from app.config import get_settings
from app.errors import AppError
from app.slots.agenda import SyncReport, sync

NAME = "agenda"
cli = typer.Typer(help="Synchronisation avec l'agenda du médecin (recherche de créneaux FHIR du guide ANS)",
                  no_args_is_help=True)
console = Console()


async def _sync(source: str, practitioner: str, site: uuid.UUID | None, token: str | None) -> SyncReport:
    from app.database import command_session

    async with command_session() as session:
        column = "rpps" if practitioner.isdigit() else "id"
        found = await session.scalar(text(f"SELECT id FROM practitioners WHERE {column}::text = :v"),
                                     {"v": practitioner})
        if found is None:
            raise typer.BadParameter(f"no practitioner {practitioner} (give his RPPS or id)")
        return await sync(session, get_settings(), source=source, practitioner_id=found, site_id=site, token=token)


@cli.command("sync")
def sync_command(
    source: Annotated[str, typer.Option(help="the editor's FHIR base URL (it serves GET [base]/Slot as the guide)")],
    practitioner: Annotated[str, typer.Option(help="the practitioner's RPPS (or id here)")],
    site: Annotated[str | None, typer.Option(help="the site here the slots are held at (default: his one)")] = None,
    token: Annotated[str | None, typer.Option(envvar="SNP_AGENDA_TOKEN", help="bearer token at the editor")] = None,
) -> None:
    """Publish the free slots the editor offers that we lack, withdraw the free ones it no longer offers,
    never touch one booked here; print what changed."""
    try:
        site_id = uuid.UUID(site) if site else None
    except ValueError as exc:
        raise typer.BadParameter(f"{site!r} is not a site id") from exc
    try:
        report = asyncio.run(_sync(source, practitioner, site_id, token))
    except AppError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from exc
    table = Table(title="Synchronisation de l'agenda")
    for column in ("offerts", "publiés", "rouverts", "retirés", "inchangés", "gardés (réservés ici)", "refusés"):
        table.add_column(column, justify="right")
    table.add_row(*(str(n) for n in (report.offered, report.published, report.reopened, report.withdrawn,
                                      report.unchanged, report.kept_booked, len(report.refused))))
    console.print(table)
    for refusal in report.refused:
        console.print(f"refusé : {refusal['source_key']} — {refusal['reason']}")
