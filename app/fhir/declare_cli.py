"""``snp declarations``: the appointment events held back from the national platform (or the SAMU), and
their retry once what made them refused is fixed."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.outbox import cursors, held

NAME = "declarations"
cli = typer.Typer(help="Déclarations de RDV retenues (plateforme nationale, SAMU) : voir, renvoyer",
                  no_args_is_help=True)
console = Console()
READERS = {"platform": "ptf", "samu": "hub"}


@cli.command("list")
def list_(state: Annotated[str | None, typer.Option(help="parked, refused or behind")] = None) -> None:
    """The held appointment events, oldest first, with why."""
    if state is not None and state not in held.STATES:
        raise typer.BadParameter(f"state: one of {', '.join(held.STATES)}")

    async def work() -> list[dict[str, object]]:
        from app.platform.database import command_session

        async with command_session() as session:
            return [dict(r) for r in await held.list_held(session, state=state, reader=None, limit=1000, offset=0)]

    table = Table(title="Déclarations retenues")
    for column in ("vers", "RDV", "événement", "état", "code", "raison"):
        table.add_column(column)
    for row in asyncio.run(work()):
        table.add_row(held.READERS[str(row["reader"])], str(row["booking_id"]), str(row["kind"]), str(row["state"]),
                      str(row["status_code"] or "—"), str(row["reason"]))
    console.print(table)


@cli.command("retry")
def retry(
    booking: Annotated[uuid.UUID | None, typer.Option(help="only this appointment (its booking id)")] = None,
    to: Annotated[str, typer.Option(help="platform (FrAppointmentSAS) or samu (the Hub Santé)")] = "platform",
) -> None:
    """Send again, at the next round and in order, the declarations the recipient refused (after a fix)."""
    if to not in READERS:
        raise typer.BadParameter("to: platform or samu")

    async def work() -> int:
        from app.platform.database import command_session

        async with command_session() as session:
            return await cursors.request_retry(session, READERS[to], booking)

    asked = asyncio.run(work())
    console.print(f"{asked} déclaration(s) refusée(s) renvoyée(s) au prochain passage")
