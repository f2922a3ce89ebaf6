"""The ``snp`` command line. Each domain may add a ``cli.py`` exposing ``cli`` (a typer app)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from app.platform.commands import parse_ttl
from app.platform.config import get_settings

if TYPE_CHECKING:
    from app.platform.backup import Barman

app = typer.Typer(help="SNP — soins non programmés du Service d'Accès aux Soins", no_args_is_help=True)
console = Console(stderr=True)



@app.command()
def token(
    role: Annotated[str, typer.Option(help="effector, operator, regulator, urgences, referrer, analyst, coordinator "
                                                 "or admin")],
    territory: Annotated[list[str] | None, typer.Option(help="territory code (repeatable)")] = None,
    practitioner: Annotated[str | None, typer.Option(help="practitioner id (effectors)")] = None,
    ttl: Annotated[str, typer.Option(help="lifetime: 900, 15m, 8h, 7d")] = "8h",
    sub: Annotated[str | None, typer.Option(help="subject (user id)")] = None,
    referrer_kind: Annotated[str | None, typer.Option(
        help="referrers: pharmacist, nurse, medical_secretary, social_worker or other_professional")] = None,
) -> None:
    """Print a development JWT signed with SNP_JWT_SECRET."""
    from app.auth.tokens import create_token

    try:
        print(
            create_token(
                get_settings(), role=role, territories=territory or [], practitioner_id=practitioner,
                sub=sub, ttl_seconds=parse_ttl(ttl), referrer_kind=referrer_kind,
            )
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


@app.command()
def serve(
    host: Annotated[str, typer.Option(envvar="HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="PORT")] = 8000,
    workers: int = 1,
) -> None:
    """Start the embedded database if needed, migrate, and serve the API and console."""
    import os

    import uvicorn

    base = f"http://{host}:{port}"
    # The links the app writes name this address unless SNP_PUBLIC_URL says otherwise (the workers read it).
    os.environ.setdefault("SNP_PUBLIC_URL", base)
    console.print(f"[bold]SNP[/bold] starting on {base}")
    console.print(f"  console   {base}/console/")
    console.print(f"  API docs  {base}/docs  (ReDoc {base}/redoc)")
    console.print(f"  ready     {base}/ready")
    # proxy_headers off: uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1 and rewrite the
    # client address; the app applies SNP_TRUSTED_PROXIES itself (app/http/proxies.py).
    uvicorn.run("app.main:app", host=host, port=port, workers=workers, log_level="info", proxy_headers=False)


@app.command()
def migrate() -> None:
    """Apply the migrations to SNP_DATABASE_URL (or the embedded database)."""
    from app.platform import migrate as migrations
    from app.platform.database import resolve_database_url

    url, _ = resolve_database_url(get_settings())
    migrations.upgrade(url)
    console.print(f"schema at {migrations.head_revision()}")


db = typer.Typer(help="The embedded PostgreSQL (when SNP_DATABASE_URL is unset), its replica and their promotion")
app.add_typer(db, name="db")


@db.command("start")
def db_start() -> None:
    """Start the embedded server (it keeps running) and print its URL."""
    from app.platform.database import embedded_for

    print(embedded_for(get_settings()).start())


@db.command("stop")
def db_stop() -> None:
    """Stop the embedded server cleanly."""
    from app.platform.database import embedded_for

    embedded_for(get_settings()).stop()


@db.command("status")
def db_status() -> None:
    """Say whether the embedded server runs."""
    from app.platform.database import embedded_for

    running = embedded_for(get_settings()).is_running()
    print("running" if running else "stopped")
    raise typer.Exit(0 if running else 3)


@db.command("replica")
def db_replica(
    primary: Annotated[str, typer.Option(help="the primary's URL (postgresql://…), as the app reaches it")],
    data: Annotated[Path, typer.Option(help="the replica's own data folder (created)")],
    port: Annotated[int, typer.Option(help="the loopback TCP port the replica listens on")] = 5433,
    name: Annotated[str, typer.Option(help="the name the primary knows the standby by")] = "snp_replica",
    synchronous: Annotated[bool, typer.Option(
        help="the primary acknowledges a commit once the replica has it on disk: no acknowledged write is "
             "lost when the replica is promoted, and writes wait while no standby answers")] = False,
) -> None:
    """Start an embedded streaming replica of PRIMARY (pg_basebackup, then hot standby); print its URL."""
    import asyncio

    from app.platform.database import asyncpg_dsn, normalize_url
    from app.platform.embedded import EmbeddedPostgres

    dsn = asyncpg_dsn(normalize_url(primary))
    url = EmbeddedPostgres(data, port=port, listen_tcp=True).replicate(dsn, name)
    if synchronous:
        asyncio.run(_synchronous(dsn, name))
        console.print(f"the primary now waits for {name} at each commit")
    print(url)


async def _synchronous(dsn: str, name: str) -> None:
    import asyncio

    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        for _ in range(600):  # the standby connects within seconds of its start
            if await conn.fetchval("SELECT count(*) FROM pg_stat_replication WHERE application_name = $1", name):
                break
            await asyncio.sleep(0.1)
        else:
            raise typer.BadParameter(f"{name} does not stream from the primary", param_hint="--primary")
        await conn.execute(f"ALTER SYSTEM SET synchronous_standby_names = '\"{name}\"'")
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()


@db.command("promote")
def db_promote(
    url: Annotated[str, typer.Option(help="the replica's URL")],
) -> None:
    """Make the replica the primary (after the primary died): it stops replaying and accepts writes. The
    app finds it by itself when SNP_DATABASE_URL names both hosts with target_session_attrs=read-write.
    Refused on a server Patroni manages (it fails over by itself)."""
    import asyncio

    import asyncpg

    from app.platform.database import asyncpg_dsn, normalize_url

    async def promote() -> bool:
        conn = await asyncpg.connect(asyncpg_dsn(normalize_url(url)))
        try:
            # Patroni's agent keeps its own connections to the server it runs ("Patroni heartbeat", …).
            if await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'Patroni %'"):
                console.print("[red]Patroni manages this server: it promotes a standby by itself when the primary "
                              "dies, and a promotion beside it would make two primaries (split brain). To move "
                              "the primary by hand: patronictl switchover (docs/operations.md)[/red]")
                raise typer.Exit(1)
            if not await conn.fetchval("SELECT pg_is_in_recovery()"):
                console.print("already a primary")
                return True
            return bool(await conn.fetchval("SELECT pg_promote(true, 60)"))
        finally:
            await conn.close()

    if not asyncio.run(promote()):
        console.print("[red]the promotion did not complete within 60 s[/red]")
        raise typer.Exit(1)
    console.print("promoted: this server is the primary now")


def _barman() -> Barman:
    from app.platform.backup import Barman

    settings = get_settings()
    return Barman(server=settings.barman_server, config=settings.barman_config)


@db.command("backup")
def db_backup() -> None:
    """A full backup now, by Barman (SNP_BARMAN_CONFIG, SNP_BARMAN_SERVER), encrypted with its GPG key; on
    success, its time written to SNP_BACKUP_METRICS_FILE for node_exporter (the alert SnpBackupTooOld)."""
    from app.platform.backup import BackupError, backup, write_last_success

    barman = _barman()
    try:
        done = backup(barman)
    except BackupError as exc:
        console.print(f"[red]the backup failed[/red]: {exc}", soft_wrap=True)
        raise typer.Exit(1) from exc
    target = get_settings().backup_metrics_file
    if target is not None:
        write_last_success(target, done.finished_at, barman.server)
    console.print(f"backup {done.backup_id}: {done.size_bytes / 2**20:.1f} MiB in {done.seconds:.1f} s"
                  + (f", its time written to {target}" if target else ", SNP_BACKUP_METRICS_FILE unset"))
    print(done.backup_id)


def _moment(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter("an ISO 8601 time with its offset, e.g. 2026-03-01T14:05:00+01:00") from exc
    if moment.tzinfo is None:
        raise typer.BadParameter("give the offset too, e.g. 2026-03-01T14:05:00+01:00 (or Z for UTC)")
    return moment


@db.command("restore")
def db_restore(
    to: Annotated[str, typer.Option("--to", help="the time to go back to, ISO 8601 with its offset (e.g. "
                                    "2026-03-01T14:05:00+01:00): every transaction committed by then, none after")],
    into: Annotated[Path, typer.Option("--into", help="a new folder: the cluster is restored into FOLDER/pg")],
) -> None:
    """Restore the database as it was at TIME into a new folder, by Barman (the closest backup before TIME, then
    its WAL). Needs the backup's private GPG key and its passphrase (docs/operations.md). Started, the server
    replays up to TIME and becomes a primary: `SNP_DATA_DIR=FOLDER snp db start`."""
    from app.platform.backup import BackupError, restore

    moment = _moment(to)
    barman = _barman()
    try:
        done = restore(barman, moment, into)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--into") from exc
    except BackupError as exc:
        console.print(f"[red]the restore failed[/red]: {exc}", soft_wrap=True)
        raise typer.Exit(1) from exc
    console.print(f"backup {done.backup_id} restored to {moment.isoformat()} in {done.seconds:.1f} s; start it: "
                  f"SNP_DATA_DIR={into} snp db start", soft_wrap=True)
    print(done.pgdata)


@app.command()
def openapi(
    out: Annotated[Path, typer.Option(help="where to write")] = Path("openapi/openapi.json"),
    check: Annotated[bool, typer.Option(help="fail if the file differs from the app")] = False,
) -> None:
    """Export the OpenAPI document of the app (or check it is current)."""
    from app.openapi_export import render

    text = render()
    if check:
        current = out.read_text() if out.exists() else ""
        if current != text:
            console.print(f"[red]{out} is out of date: run `make openapi`[/red]")
            raise typer.Exit(1)
        console.print(f"{out} is current")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    console.print(f"wrote {out} ({len(json.loads(text)['paths'])} paths)")


def _mount_domain_commands() -> None:
    """The commands of each domain that has some (``app/<domain>/cli.py``)."""
    from app.bookings import cli as bookings
    from app.calls import cli as calls
    from app.fhir import agenda_cli as agenda
    from app.fhir import declare_cli as declarations
    from app.identity import cli as keys
    from app.notifications import cli as notifications
    from app.slots import cli as slots
    from app.stats import cli as stats
    from app.users import cli as users

    for domain, module in (("bookings", bookings), ("slots", slots), ("calls", calls),
                           ("notifications", notifications), ("stats", stats), ("users", users),
                           ("agenda", agenda), ("declarations", declarations), ("keys", keys)):
        if hasattr(module, "cli"):
            app.add_typer(module.cli, name=getattr(module, "NAME", domain))
        for command in getattr(module, "COMMANDS", ()):
            app.command()(command)


_mount_domain_commands()

# The simulator mints its own tokens with the development secret: it left the installed package for the
# repository's tools/simulator/, which the production image does not carry. Its old names say where it went.
MOVED = ("simulate", "demo", "seed")


def _moved(name: str) -> None:
    @app.command(name, hidden=True, add_help_option=False,
                 context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def moved() -> None:
        console.print(f"`snp {name}` is a development tool now: from a checkout of the repository, "
                      f"`python -m tools.simulator {name}`", soft_wrap=True)  # one line, to be copied whole
        raise typer.Exit(2)


for _name in MOVED:
    _moved(_name)

if __name__ == "__main__":
    sys.exit(app())
