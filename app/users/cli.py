"""``snp users``: register who may sign in through the identity provider, and with which rights."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.certificates import UnreadableCertificate, parse
from app.platform.errors import AppError
from app.users import service
from app.users.schemas import UserCreate, UserRead, UserUpdate

cli = typer.Typer(help="The users registry: the rights of the identity provider's users", no_args_is_help=True)
console = Console()
T = TypeVar("T")


async def _in_session(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    from app.platform.database import command_session

    async with command_session() as session:
        return await work(session)


def _run(work: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
    try:
        return asyncio.run(_in_session(work))
    except AppError as exc:
        console.print(f"[red]{exc.detail}[/red]" + (f" ({exc.field})" if exc.field else ""))
        raise typer.Exit(1) from exc


def _show(users: list[UserRead]) -> None:
    table = Table(title="Utilisateurs")
    for column in ("id", "nom", "rôle", "territoires", "RPPS", "sujet", "actif"):
        table.add_column(column)
    for u in users:
        named = u.subject or (f"CN={u.certificate_cn}" + (f", {u.certificate_ou}" if u.certificate_ou else "")
                              + f" (émetteur {u.certificate_issuer})" if u.certificate_cn else "—")
        table.add_row(str(u.id), u.display_name, u.role, ", ".join(u.territories), u.rpps or "—", named,
                      "oui" if u.active else "non")
    console.print(table)


@cli.command("add")
def add(
    name: Annotated[str, typer.Option("--name", help="the name shown in the console")],
    role: Annotated[str | None, typer.Option(help="effector, operator, regulator, urgences, referrer, analyst, "
                                                  "coordinator, admin (platform with --certificate)")] = None,
    certificate: Annotated[Path | None, typer.Option(
        help="the national platform's client certificate (PEM): it signs in with it (mutual TLS), known by its "
             "issuer and subject CN and OU, which its renewals keep; role platform", dir_okay=False)] = None,
    rpps: Annotated[str | None, typer.Option(help="the RPPS its tokens carry (11 digits)")] = None,
    subject: Annotated[str | None, typer.Option(help="the identity provider's subject (sub)")] = None,
    national_id: Annotated[str | None, typer.Option(help="the national id (IDNPS) as the national platform gives "
                                                         "it, e.g. 3456780581/11242343")] = None,
    sas_technical_id: Annotated[str | None, typer.Option(help="without a national id: the SAS technical id the "
                                                              "platform gives")] = None,
    territory: Annotated[list[str] | None, typer.Option("--territory", help="repeat for several")] = None,
    practitioner: Annotated[str | None, typer.Option(help="effectors: practitioner id (default: by RPPS)")] = None,
    referrer_kind: Annotated[str | None, typer.Option(help="referrers: pharmacist, nurse, …")] = None,
    family_name: Annotated[str | None, typer.Option(help="told to the SAMU of who booked (Hub Santé)")] = None,
    given_name: Annotated[str | None, typer.Option(help="likewise")] = None,
    email: Annotated[str | None, typer.Option(help="likewise")] = None,
) -> None:
    """Register an identity with its rights, or the national platform's certificate."""
    if certificate is not None:
        _add_certificate(name, role, certificate, [rpps, subject, national_id, sas_technical_id, territory,
                                                   practitioner, referrer_kind, family_name, given_name, email])
        return
    if role is None:
        console.print("[red]--role is required (or --certificate for the national platform)[/red]")
        raise typer.Exit(2)
    try:
        data = UserCreate(display_name=name, role=role, rpps=rpps, subject=subject,  # type: ignore[arg-type]
                          national_id=national_id, sas_technical_id=sas_technical_id,
                          family_name=family_name, given_name=given_name, email=email,
                          territories=territory or [], referrer_kind=referrer_kind,  # type: ignore[arg-type]
                          practitioner_id=uuid.UUID(practitioner) if practitioner else None)
    except (ValidationError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc

    async def work(session: AsyncSession) -> UserRead:
        return UserRead.model_validate(await service.create(session, None, data))

    _show([_run(work)])


def _add_certificate(name: str, role: str | None, path: Path, others: list[object]) -> None:
    if role not in (None, "platform"):
        console.print("[red]a certificate signs in the national platform only: --role platform[/red]")
        raise typer.Exit(2)
    if any(others):
        console.print("[red]--certificate goes with --name alone (the platform reads every territory)[/red]")
        raise typer.Exit(2)
    try:
        read = parse(path.read_bytes())
    except (OSError, UnreadableCertificate) as exc:
        console.print(f"[red]{path}: {exc}[/red]")
        raise typer.Exit(2) from exc

    async def work(session: AsyncSession) -> UserRead:
        return UserRead.model_validate(await service.register_certificate(session, None, name, read))

    _show([_run(work)])
    console.print(f"Valide jusqu'au {read.not_after:%Y-%m-%d} ; un certificat renouvelé (même émetteur, CN et OU) "
                  "est reconnu sans nouvel enregistrement.")


@cli.command("list")
def list_(role: Annotated[str | None, typer.Option()] = None,
          territory: Annotated[str | None, typer.Option()] = None) -> None:
    """The registered users."""
    async def work(session: AsyncSession) -> list[UserRead]:
        rows = await service.list_(session, role=role, territory=territory, active=None, search=None, limit=1000,
                                   offset=0)
        return [UserRead.model_validate(u) for u in rows]

    _show(_run(work))


@cli.command("disable")
def disable(user_id: Annotated[str, typer.Argument(help="the user's id")]) -> None:
    """Stop an identity from signing in (the record stays, for the audit trail)."""
    try:
        target = uuid.UUID(user_id)
    except ValueError as exc:
        console.print(f"[red]{user_id!r} is not a user id[/red]")
        raise typer.Exit(2) from exc

    async def work(session: AsyncSession) -> UserRead:
        return UserRead.model_validate(await service.update(session, None, target, UserUpdate(active=False)))

    _show([_run(work)])
