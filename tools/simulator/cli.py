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
from tools.simulator.plan import INDRE_MIX, KINDS, PROFILES, PlannedCall, Profile, plan
from tools.simulator.run import Shift, Simulation

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


def ahead(profile: Profile, began: dt.datetime, days: float, seed: int, backlog: int = 0) -> list[PlannedCall]:
    """The calls of the ``days`` to come; with a ``backlog``, at least that many: with too few ahead (a night: the
    Indre has one or two calls before dawn), the shift is joined under way all the same, its queue the next calls
    to come, then ``days`` from there."""
    calls = plan(profile, began, days, seed=seed)
    if len(calls) < backlog:
        later = plan(profile, began, days + 2, seed=seed)
        if later:
            joined = later[min(backlog, len(later)) - 1].at
            calls = [call for call in later if call.at <= joined + dt.timedelta(days=days)]
    return calls


async def simulation(url: str, profile: Profile, days: float, speed: float, seed: int, concurrency: int,
                     history_days: float, setup: bool, ready: Callable[[Simulation], None] | None = None,
                     shift: Shift | None = None, backlog: int = 0) -> dict[str, Any]:
    """Set up (doctors, sites, rules), load the past (calls import), call ``ready``, then play ``days`` of calls
    and compare them with the report. With a ``shift``, people take the time they take (the queue fills);
    the first ``backlog`` calls come at once (a shift joined under way)."""
    sim = Simulation(url, get_settings(), profile, seed=seed, concurrency=concurrency, shift=shift)
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
        months = _months(profile.timezone, began, began + dt.timedelta(days=1))
        before = await sim.report(territory, months)
        if ready is not None:
            ready(sim)
        calls = ahead(profile, began, days, seed, backlog)
        with Progress(TextColumn("[bold]Appels"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=False) as progress:
            task = progress.add_task("calls", total=len(calls))
            await sim.run(calls, speed, progress=lambda: progress.advance(task), backlog=backlog)
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
                - before["calls_with_several_decisions"],
                "mt": _mt_delta(before, after)}
        return summary
    finally:
        await sim.close()


def _mt_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The report's figures of the patients without a médecin traitant, the run's own: events and the waiting
    ones as differences; the median days to find and the doctors' offers as the report gives them after."""
    def diff(key: str) -> dict[str, int]:
        return {k: n - before["mt"][key].get(k, 0) for k, n in after["mt"][key].items()}

    return {"mt_requests": after["mt_requests"] - before["mt_requests"],
            "mt_found": after["mt_found"] - before["mt_found"],
            "mt_waiting": after["mt_waiting"] - before["mt_waiting"],
            "mt_median_days_to_find": after["mt_median_days_to_find"],
            "requests_by_source": diff("requests_by_source"), "accepted": after["mt"]["accepted"]
            - before["mt"]["accepted"], "closed_by_reason": diff("closed_by_reason"),
            "refusals_by_reason": diff("refusals_by_reason"),
            "doctors_accepting_now": after["mt"]["doctors_accepting_now"],
            "places_per_month_now": after["mt"]["places_per_month_now"]}


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
    mt, counted = summary["mt"], (delta or {}).get("mt")
    regulated = summary["calls"] - summary["ed_redirections"]
    console.print(
        f"sans médecin traitant : {mt['requests']} demandes ({100 * mt['requests'] / max(regulated, 1):.1f} % des "
        f"patients régulés), {mt['proposals']} propositions, refus {mt['refusals_by_reason'] or 0}, "
        f"{mt['accepted']} acceptés, {mt['found']} trouvés, closes {mt['closed_by_reason'] or 0}, {mt['waiting']} en "
        f"attente ; {mt['offers']} médecins prenant de nouveaux patients ({mt['places_per_month']} places par mois)"
        + (f" — rapport : {counted['mt_requests']} demandes, {counted['mt_found']} trouvés, "
           f"{counted['mt_waiting']} en attente" if counted else ""))
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
    regulation with the Indre's mix, ED redirections, cancellations, outcomes; patients without a médecin
    traitant (1 in 10) on the waiting list, placed by the coordinator with the doctors who take new patients.
    Tokens are signed with SNP_JWT_SECRET: the service must share it."""
    if profile not in PROFILES:
        raise typer.BadParameter(f"unknown profile {profile!r}; one of {', '.join(PROFILES)}")
    summary = asyncio.run(simulation(url, PROFILES[profile], days, speed, seed, concurrency, history_days, setup))
    show(summary)
    if summary_json is not None:
        summary_json.write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    if summary["errors"]:
        raise typer.Exit(1)


# What each role's token shows of the console (app/console/static/views/tabs.js).
TABS = (("operator", "Appels, Créneaux (opérateur : saisit et qualifie les appels)"),
        ("regulator", "Appels, Créneaux (régulateur : prend, rappelle, décide, réserve)"),
        ("effector", "Mon activité (le médecin : ses rendez-vous, ses retours)"),
        ("urgences", "Créneaux, avec la réorientation depuis les urgences et ses réorientations"),
        ("referrer", "Créneaux, avec l'adressage d'un professionnel (pharmacien)"),
        ("coordinator", "Médecin traitant (la coordination de la CPTS : liste d'attente, propositions)"),
        ("analyst", "Statistiques"),
        ("admin", "Appels, Créneaux, Statistiques"))


def demo_folder(data_dir: Path) -> Path:
    """The demo's own data folder, beside ``make run``'s (``./.data`` → ``./.data-demo``): the demo never
    touches the data of the service run by hand."""
    return data_dir.with_name(f"{data_dir.name}-demo")


def demo(
    host: Annotated[str, typer.Option(envvar="HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="PORT")] = 8000,
    speed: Annotated[float, typer.Option(help="simulated seconds per real second, going forward")] = 60.0,
    days: Annotated[float, typer.Option(help="simulated days going forward")] = 7.0,
    data: Annotated[Path | None, typer.Option(
        help="the demo's embedded PostgreSQL folder; default: beside SNP_DATA_DIR's, named <it>-demo")] = None,
    backlog: Annotated[int, typer.Option(help="calls already in the queue when the demo starts")] = 8,
) -> None:
    """The service with the last four weeks of Indre activity, then the simulator running forward: calls
    wait in the queue as in a real shift. Its own embedded PostgreSQL (never ``make run``'s); one Ctrl-C
    stops the simulator, the service and the database."""
    settings = get_settings()
    folder = (data or demo_folder(settings.data_dir)).expanduser().resolve()
    base = f"http://{host}:{port}"
    began = time.monotonic()
    # Stopped from outside (SIGTERM): the same as a Ctrl-C, which asyncio turns into cancelling the simulation.
    signal.signal(signal.SIGTERM, lambda signum, frame: os.kill(os.getpid(), signal.SIGINT))
    env = {k: v for k, v in os.environ.items() if k != "SNP_DATABASE_URL"}
    env.update(SNP_DATA_DIR=str(folder), SNP_LOG_LEVEL=os.environ.get("SNP_LOG_LEVEL", "WARNING"))
    server: subprocess.Popen[bytes] | None = None
    try:
        console.print(f"Base de la démo : {folder}")
        # The database and the service in sessions of their own: the terminal's Ctrl-C reaches this process
        # alone, which stops them in order (the service first, then the database it writes to).
        database = subprocess.run([sys.executable, "-m", "app.cli", "db", "start"], env=env, capture_output=True,
                                  text=True, start_new_session=True, check=False)
        if database.returncode != 0:
            console.print(f"[red]the demo's PostgreSQL did not start[/red]\n{database.stderr[-2000:]}")
            raise typer.Exit(1)
        env["SNP_DATABASE_URL"] = database.stdout.strip().splitlines()[-1]
        log_file = folder / "service.log"  # the service's own lines, out of the way of the demo's
        with open(log_file, "ab") as sink:
            server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--host", host, "--port", str(port)],
                                      env=env, start_new_session=True, stdout=sink, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-20:])
                console.print(f"[red]the service did not start[/red] ({log_file}):\n{tail}", highlight=False)
                raise typer.Exit(1)
            time.sleep(0.5)

        def announce(sim: Simulation) -> None:
            _announce(sim, base, time.monotonic() - began, log_file)

        # The last four weeks through the calls import, then the days to come at ``speed``.
        summary = asyncio.run(simulation(base, PROFILES["indre"], days, speed, 1, 16, 28, setup=True,
                                         ready=announce, shift=Shift(speed), backlog=backlog))
        show(summary)
        console.print("Simulation terminée ; le service tourne encore (Ctrl-C pour arrêter).")
        server.wait()
    except KeyboardInterrupt:
        console.print("Arrêt de la démo…")
    finally:
        _stop_demo(server, folder)


def _announce(sim: Simulation, base: str, seconds: float, log_file: Path) -> None:
    """What one needs to look at the demo: the addresses, a token per role and the tabs it shows, an
    effector's id. Each token on a line of its own, unbroken, to be pasted into the console."""
    console.print("[bold]Jetons de la démo[/bold] (valables 7 jours ; à coller dans la console) :")
    doctor_id, doctor_token = next(iter(sim.effectors.items()), (None, None))
    for role, tabs in TABS:
        token = doctor_token if role == "effector" else sim.console_token(role, "36")
        if token is None:
            continue
        console.print(f"[bold]{role}[/bold] — {tabs}", soft_wrap=True)
        console.print(token, soft_wrap=True, highlight=False)
    if doctor_id is not None:
        console.print(f"Effecteur de la démo : {sim.names.get(doctor_id, '')}, practitioner_id {doctor_id} "
                      f"(les autres : GET {base}/v1/practitioners?territory=36 avec le jeton admin)",
                      soft_wrap=True, highlight=False)
    console.print(f"Journal du service : {log_file}", soft_wrap=True, highlight=False)
    console.print(f"[bold green]Démo prête en {seconds:.0f} s[/bold green] : console {base}/console/ — "
                  f"API {base}/docs — Ctrl-C pour tout arrêter", soft_wrap=True, highlight=False)


def _stop_demo(server: subprocess.Popen[bytes] | None, folder: Path) -> None:
    """The service, then the database: nothing the demo started outlives it."""
    from app.platform.embedded import EmbeddedPostgres

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not leave the database running
    if server is not None and server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    EmbeddedPostgres(folder).stop()
    console.print("Démo arrêtée.")


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


app = typer.Typer(help="The simulator: a SAS's traffic through the public API, the demo, the benchmarks' seed",
                  no_args_is_help=True)
for command in (simulate, demo, seed):
    app.command()(command)
