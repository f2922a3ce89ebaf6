"""``snp agenda sync``: keep one agenda — pull a practitioner's free SNP slots from his agenda editor's
FHIR slot search (the ANS guide's), and publish, withdraw or give back ours to match."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from app.fhir.agenda import SyncReport, sync
from app.platform.config import get_settings
from app.platform.errors import AppError

NAME = "agenda"
cli = typer.Typer(help="Synchronisation avec l'agenda du médecin (recherche de créneaux FHIR du guide ANS)",
                  no_args_is_help=True)
console = Console()


async def _practitioner(session: Any, practitioner: str) -> uuid.UUID:
    column = "rpps" if practitioner.isdigit() else "id"
    found = await session.scalar(text(f"SELECT id FROM practitioners WHERE {column}::text = :v"), {"v": practitioner})
    if found is None:
        raise typer.BadParameter(f"no practitioner {practitioner} (give his RPPS or id)")
    return uuid.UUID(str(found))


async def _sync(source: str, practitioner: str, site: uuid.UUID | None, token: str | None) -> SyncReport:
    from app.platform.database import command_session

    async with command_session() as session:
        found = await _practitioner(session, practitioner)
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


# --------------------------------------------------------------------------------- on a schedule


@cli.command("add")
def add_command(
    source: Annotated[str, typer.Option(help="the editor's FHIR base URL (it serves GET [base]/Slot as the guide)")],
    practitioner: Annotated[str, typer.Option(help="the practitioner's RPPS (or id here)")],
    site: Annotated[str | None, typer.Option(help="the site here the slots are held at (default: his one)")] = None,
    token: Annotated[str | None, typer.Option(envvar="SNP_AGENDA_TOKEN", help="bearer token at the editor")] = None,
    every: Annotated[str, typer.Option(help="how often: 15m, 1h … (1 minute to 1 day)")] = "15m",
) -> None:
    """Pull this practitioner's editor on a schedule (every instance looks for the sources due every
    SNP_AGENDA_SYNC_SECONDS); public https addresses only, each page on the source's own origin."""
    from app.fhir.agenda import _only_site
    from app.platform import outbound
    from app.platform.commands import parse_ttl
    from app.platform.database import command_session

    seconds = parse_ttl(every)
    if not 60 <= seconds <= 86400:
        raise typer.BadParameter("every: between 1 minute and 1 day")
    settings = get_settings()
    try:
        outbound.check_url(source, allowed_hosts=settings.webhook_allowed_hosts,
                        allow_plain_http=settings.env != "production")
    except ValueError as exc:
        raise typer.BadParameter(f"source {exc}") from exc

    async def work() -> None:
        async with command_session() as session:
            found = await _practitioner(session, practitioner)
            site_id = uuid.UUID(site) if site else await _only_site(session, found)
            await session.execute(text("""
                INSERT INTO agenda_sources (practitioner_id, source_url, site_id, token, every_seconds)
                VALUES (:p, :source, :site, :token, :every)
                ON CONFLICT (practitioner_id) DO UPDATE SET source_url = EXCLUDED.source_url,
                    site_id = EXCLUDED.site_id, token = EXCLUDED.token, every_seconds = EXCLUDED.every_seconds,
                    active = true, next_run_at = now()"""),
                {"p": found, "source": source.rstrip("/"), "site": site_id, "token": token, "every": seconds})

    try:
        asyncio.run(work())
    except AppError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"agenda de {practitioner} : synchronisé toutes les {every}, à partir de maintenant")


@cli.command("list")
def list_command() -> None:
    """The practitioners whose agenda is pulled on a schedule, and how the last run went."""
    from app.platform.database import command_session

    async def work() -> list[Any]:
        async with command_session() as session:
            return list((await session.execute(text("""
                SELECT p.rpps, a.source_url, a.every_seconds, a.active, a.last_run_at, a.last_report, a.last_error
                FROM agenda_sources a JOIN practitioners p ON p.id = a.practitioner_id ORDER BY p.rpps"""))).all())

    table = Table(title="Agendas synchronisés")
    for column in ("RPPS", "source", "toutes les", "actif", "dernier passage", "résultat"):
        table.add_column(column)
    for rpps, url, seconds, active, last, report, error in asyncio.run(work()):
        outcome = error or (f"publiés {report['published']}, retirés {report['withdrawn']}" if report else "—")
        table.add_row(rpps, url, f"{seconds // 60} min", "oui" if active else "non",
                      last.isoformat(timespec="seconds") if last else "—", outcome)
    console.print(table)


@cli.command("remove")
def remove_command(practitioner: Annotated[str, typer.Option(help="the practitioner's RPPS (or id here)")]) -> None:
    """Stop pulling this practitioner's editor (the slots already synced stay)."""
    from app.platform.database import command_session

    async def work() -> int:
        async with command_session() as session:
            found = await _practitioner(session, practitioner)
            result = await session.execute(text("UPDATE agenda_sources SET active = false WHERE practitioner_id = :p"),
                                           {"p": found})
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    if not asyncio.run(work()):
        console.print(f"[red]aucun agenda synchronisé pour {practitioner}[/red]")
        raise typer.Exit(1)
    console.print(f"agenda de {practitioner} : plus synchronisé")
