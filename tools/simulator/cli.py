"""The simulator's command line, ``python -m tools.simulator`` from the repository: ``simulate`` (a SAS's
traffic through the public API), ``demo`` (the service, the last four weeks of the Indre, and the simulator
running forward) and ``seed`` (a database the size of France for the benchmarks). A development tool: it
mints its own tokens with the development secret, so it lives outside app/ and the production image."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.platform.config import get_settings
from tools.simulator.plan import INDRE_MIX, KINDS, PROFILES, Profile, plan
from tools.simulator.run import Simulation

console = Console()
EXPECTED = {kind: sum(n for c, n in INDRE_MIX.items() if kind in KINDS[c]) / sum(INDRE_MIX.values())
            for kind in ("advice", "slot", "prescription", "other")}
LABELS = {"advice": "conseils médicaux", "slot": "orientations vers un créneau", "prescription": "prescriptions",
          "other": "autres situations"}


def _months(zone: str, since: dt.datetime, until: dt.datetime) -> list[str]:
    first = since.astimezone(ZoneInfo(zone))
    last = until.astimezone(ZoneInfo(zone))
    months = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _territory(profile: Profile) -> str:
    return profile.departements[0] if len(profile.departements) == 1 else "FR"


async def simulation(url: str, profile: Profile, days: float, speed: float, seed: int, concurrency: int,
                     history_days: float, setup: bool, ready: Callable[[], None] | None = None) -> dict[str, Any]:
    """Set up (doctors, sites, rules), load the past (calls import), call ``ready``, then play ``days`` of calls
    and compare them with the report."""
    sim = Simulation(url, get_settings(), profile, seed=seed, concurrency=concurrency)
    try:
        territory = _territory(profile)
        began = dt.datetime.now(dt.UTC)
        if setup:
            with console.status("Médecins, sites et plages hebdomadaires…"):
                await sim.setup()
            console.print(f"{len(sim.effectors)} médecins, {sim.tally.slots_published} créneaux publiés")
        imported = 0
        if history_days > 0:
            past = plan(profile, began - dt.timedelta(days=history_days), history_days, seed=seed + 1)
            with console.status(f"Import des {len(past)} appels des {history_days:g} derniers jours…"):
                imported = await sim.import_history(past)
            console.print(f"{imported} appels passés importés")
        if ready is not None:
            ready()
        months = _months(profile.timezone, began, began + dt.timedelta(days=1))
        before = await sim.report(territory, months)
        calls = plan(profile, began, days, seed=seed)
        with Progress(TextColumn("[bold]Appels"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=False) as progress:
            task = progress.add_task("calls", total=len(calls))
            await sim.run(calls, speed, progress=lambda: progress.advance(task))
        months = _months(profile.timezone, began, dt.datetime.now(dt.UTC))
        after = await sim.report(territory, months) if before is not None else None
        summary = {"profile": profile.name, "days": days, "speed": speed, "seed": seed, "planned": len(calls),
                   "history_imported": imported, "territory": territory, "months": months,
                   "expected_shares": EXPECTED, **sim.tally.as_dict()}
        if before is not None and after is not None:
            summary["report_delta"] = {
                "calls": after["calls"] - before["calls"],
                "decisions": {k: after["decisions"][k]["count"] - before["decisions"][k]["count"] for k in EXPECTED},
                "calls_with_several_decisions": after["calls_with_several_decisions"]
                - before["calls_with_several_decisions"]}
        return summary
    finally:
        await sim.close()


def show(summary: dict[str, Any]) -> None:
    calls = summary["calls"] or 1
    delta = summary.get("report_delta")
    table = Table(title=f"Simulation « {summary['profile']} » — {summary['calls']} appels")
    table.add_column("décision")
    table.add_column("Indre 2022", justify="right")
    table.add_column("simulé", justify="right")
    table.add_column("rapport (écart)", justify="right")
    for kind, expected in summary["expected_shares"].items():
        count = summary["decisions"].get(kind, 0)
        reported = ""
        if delta:
            n = delta["decisions"][kind]
            reported = f"{n} ({100 * n / max(delta['calls'], 1):.1f} %)"
        table.add_row(LABELS[kind], f"{100 * expected:.1f} %", f"{count} ({100 * count / calls:.1f} %)", reported)
    table.add_row("appels à plusieurs décisions", f"{100 * 300 / 17232:.1f} %",
                  str(summary["calls_with_several_decisions"]),
                  str(delta["calls_with_several_decisions"]) if delta else "")
    console.print(table)
    console.print(
        f"réservations {summary['bookings']} (dont urgences {summary['ed_redirections']}), annulations "
        f"{summary['cancellations']} (réorientées {summary['reoriented']}), sans créneau {summary['no_slot']}, "
        f"retours {dict(summary['outcomes']) or 0}, appels par canal {summary['by_channel']}")
    if summary["errors"]:
        console.print(f"[red]erreurs {summary['errors']}[/red]")
        for line in summary["first_errors"]:
            console.print(f"  [red]{line}[/red]")


def simulate(
    url: Annotated[str, typer.Option(help="the service's address")] = "http://127.0.0.1:8000",
    profile: Annotated[str, typer.Option(help="indre (one département) or france (101)")] = "indre",
    days: Annotated[float, typer.Option(help="simulated days of calls")] = 1.0,
    speed: Annotated[float, typer.Option(help="simulated seconds per real second (0: as fast as answered)")] = 0.0,
    seed: Annotated[int, typer.Option(help="the same seed gives the same calls")] = 1,
    concurrency: Annotated[int, typer.Option(help="calls handled at once")] = 8,
    history_days: Annotated[float, typer.Option(help="past days loaded first through the calls import")] = 0.0,
    setup: Annotated[bool, typer.Option(help="create the profile's doctors, sites and rules first")] = True,
    summary_json: Annotated[Path | None, typer.Option(help="also write the summary here (JSON)")] = None,
) -> None:
    """Play a SAS's traffic through the public API: doctors publishing, calls by hour, day and season,
    regulation with the Indre's mix, ED redirections, cancellations, outcomes. Tokens are signed with
    SNP_JWT_SECRET: the service must share it."""
    if profile not in PROFILES:
        raise typer.BadParameter(f"unknown profile {profile!r}; one of {', '.join(PROFILES)}")
    summary = asyncio.run(simulation(url, PROFILES[profile], days, speed, seed, concurrency, history_days, setup))
    show(summary)
    if summary_json is not None:
        summary_json.write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    if summary["errors"]:
        raise typer.Exit(1)


def demo(
    host: Annotated[str, typer.Option(envvar="HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="PORT")] = 8000,
    speed: Annotated[float, typer.Option(help="simulated seconds per real second, going forward")] = 60.0,
    days: Annotated[float, typer.Option(help="simulated days going forward")] = 7.0,
) -> None:
    """The service with the last four weeks of Indre activity, then the simulator running forward."""
    base = f"http://{host}:{port}"
    began = time.monotonic()
    signal.signal(signal.SIGTERM, _interrupt)  # stopped from outside: stop the service too
    env = {**os.environ, "SNP_LOG_LEVEL": os.environ.get("SNP_LOG_LEVEL", "WARNING")}
    server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--host", host, "--port", str(port)],
                              env=env)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                console.print("[red]the service did not start[/red]")
                raise typer.Exit(1)
            time.sleep(0.5)

        def announce() -> None:
            console.print(f"[bold green]Démo prête en {time.monotonic() - began:.0f} s[/bold green]: "
                          f"console {base}/console/ — jeton de régulateur : "
                          f"`snp token --role regulator --territory 36`; Ctrl-C pour arrêter")

        # The last four weeks through the calls import, then the days to come at ``speed``.
        summary = asyncio.run(simulation(base, PROFILES["indre"], days, speed, 1, 4, 28, setup=True, ready=announce))
        show(summary)
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()


def seed(
    profile: Annotated[str, typer.Option(help="france (101 départements) or indre")] = "france",
    practitioners: Annotated[int | None, typer.Option(help="default: 13 000 (france), 130 (indre)")] = None,
    free_slots: Annotated[int | None, typer.Option(help="default: 1 000 000 (france), 10 000 (indre)")] = None,
    years: Annotated[float, typer.Option(help="years of past calls")] = 3.0,
    scale: Annotated[float, typer.Option(help="share of the profile's call volume")] = 1.0,
) -> None:
    """Fill an empty database (SNP_DATABASE_URL, or the embedded one) for the benchmarks: practitioners and
    sites, free slots to come, past years of calls with decisions, recent bookings with outcomes."""
    from app.platform import migrate
    from app.platform.database import resolve_database_url
    from tools.simulator import seed as seeding

    if profile not in PROFILES:
        raise typer.BadParameter(f"unknown profile {profile!r}; one of {', '.join(PROFILES)}")
    default_doctors, default_slots = seeding.DEFAULTS[profile]
    url, embedded = resolve_database_url(get_settings())
    try:
        migrate.upgrade(url)
        started = time.monotonic()
        console.print(f"Seeding the « {profile} » profile…")
        try:
            result = asyncio.run(seeding.seed(url, PROFILES[profile], practitioners=practitioners or default_doctors,
                                              free_slots=free_slots or default_slots, years=years, scale=scale,
                                              say=console.print))
        except ValueError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc
        counts = ", ".join(f"{n:,} {table}" for table, n in result["counts"].items())
        console.print(f"[bold]{counts}[/bold] in {time.monotonic() - started:.0f} s")
    finally:
        if embedded is not None:
            embedded.stop_if_started_here()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


app = typer.Typer(help="The simulator: a SAS's traffic through the public API, the demo, the benchmarks' seed",
                  no_args_is_help=True)
for command in (simulate, demo, seed):
    app.command()(command)
