"""``snp stats monthly``: the monthly report read straight from the database, as the French table.

It connects to ``SNP_DATABASE_URL`` (or ``--database-url``; the embedded database when unset) with
the rights of whoever holds the database credentials, i.e. every territory, like an admin token.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from app.auth.principal import Principal
from app.platform.errors import AppError
from app.stats import service
from app.stats.render_csv import to_csv
from app.stats.render_table import render
from app.stats.repository import compact_rollup
from app.stats.schemas import MonthlyReport

NAME = "stats"
cli = typer.Typer(help="Statistiques d'activité du SAS ambulatoire", no_args_is_help=True)
LOCAL = Principal(sub="cli", role="admin")


async def _report(url: str | None, territory: str, first: str, last: str, method: str | None) -> MonthlyReport:
    from app.platform.database import Parallel, command_session, make_sessionmaker

    async with command_session(url) as session:
        parallel = Parallel(make_sessionmaker(session.bind))  # type: ignore[arg-type]  # bound to an engine
        return await service.monthly(session, parallel, LOCAL, territory, first, last, method)


async def _compact(url: str | None) -> int:
    from app.platform.database import command_session

    async with command_session(url) as session:
        return await compact_rollup(session)


@cli.command()
def monthly(
    territory: Annotated[str, typer.Option(help="code du territoire (36, une CPTS, FR pour la France)")],
    from_: Annotated[str, typer.Option("--from", help="premier mois, AAAA-MM")],
    to: Annotated[str, typer.Option(help="dernier mois, AAAA-MM (inclus)")],
    avoided_ed_method: Annotated[
        str | None, typer.Option(help="declared_intent ou coefficients (défaut : réglage du territoire)")
    ] = None,
    csv: Annotated[Path | None, typer.Option(help="écrire aussi le rapport en CSV")] = None,
    xlsx: Annotated[Path | None, typer.Option(help="écrire aussi le rapport en XLSX")] = None,
    png: Annotated[Path | None, typer.Option(help="écrire le graphique des appels et décisions par mois")] = None,
    database_url: Annotated[str | None, typer.Option(envvar="SNP_DATABASE_URL", help="base à lire")] = None,
) -> None:
    """Rapport mensuel d'activité, au format de la publication de l'interCPTS de l'Indre."""
    try:
        report = asyncio.run(_report(database_url, territory, from_, to, avoided_ed_method))
    except AppError as exc:
        field = f" ({exc.field})" if exc.field else ""
        Console(stderr=True).print(f"[red]{exc.detail}{field}[/red]")
        raise typer.Exit(2) from exc
    console = Console(width=140)
    console.print(render(report))
    if csv:
        csv.write_text(to_csv(report), encoding="utf-8")
        console.print(f"CSV écrit : {csv}")
    if xlsx:
        from app.stats.render_xlsx import write_xlsx

        write_xlsx(report, xlsx)
        console.print(f"XLSX écrit : {xlsx}")
    if png:
        from app.stats.render_png import write_png

        write_png(report, png)
        console.print(f"PNG écrit : {png}")


@cli.command()
def compact(
    database_url: Annotated[str | None, typer.Option(envvar="SNP_DATABASE_URL", help="base à lire")] = None,
) -> None:
    """Replie les écritures en attente dans le cumul national (le rapport est exact avant comme après)."""
    folded = asyncio.run(_compact(database_url))
    Console().print(f"{folded} écritures repliées dans le cumul national")
