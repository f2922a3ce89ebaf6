"""``snp slots``: publish slots from a CSV file or a calendar through the HTTP API."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

NAME = "slots"
cli = typer.Typer(help="Créneaux SNP : publication depuis un CSV ou un agenda iCalendar", no_args_is_help=True)
console = Console(stderr=True)

COLUMNS = ("site_id", "start", "end", "mode")
OPTIONAL = ("audience", "practitioner_id", "source_key")

Api = Annotated[str, typer.Option("--api", help="Base URL of the SNP API")]
Token = Annotated[str, typer.Option("--token", envvar="SNP_TOKEN", help="Bearer token (or env SNP_TOKEN)")]


class CsvError(ValueError):
    """The file cannot be read as slots."""


def read_csv(path: Path) -> list[dict[str, Any]]:
    """Items for POST /v1/slots/bulk, one per line; a stable source_key makes re-running the file harmless."""
    text = path.read_text(encoding="utf-8-sig")
    delimiter = ";" if text.split("\n", 1)[0].count(";") > text.split("\n", 1)[0].count(",") else ","
    reader = csv.DictReader(text.splitlines(), delimiter=delimiter)
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise CsvError(f"missing column(s): {', '.join(missing)} (expected {', '.join(COLUMNS)})")
    items = []
    for row in reader:
        item = {k: (row.get(k) or "").strip() for k in COLUMNS}
        item.update({k: row[k].strip() for k in OPTIONAL if row.get(k) and row[k].strip()})
        item.setdefault("source_key", f"csv:{item['site_id']}|{item['start']}|{item['end']}")
        items.append(item)
    return items


def chunks(items: list[dict[str, Any]], size: int) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    for offset in range(0, len(items), size):
        yield offset, items[offset:offset + size]


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=console)


def _client(api: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=api.rstrip("/"), headers={"Authorization": f"Bearer {token}"}, timeout=120)


def _fail(response: httpx.Response, offset: int = 0, first_line: int = 2) -> None:
    try:
        body = response.json()
    except json.JSONDecodeError:
        body = {"detail": response.text}
    console.print(f"[red]Refusé ({response.status_code}) : {body.get('detail')}[/red]")
    rejected = body.get("rejected") or []
    if rejected:
        table = Table("ligne", "champ", "motif")
        for r in rejected[:50]:
            where = r.get("uid") or str(offset + r["index"] + first_line)
            table.add_row(where, str(r.get("field") or ""), r["reason"])
        console.print(table)
        if len(rejected) > 50:
            console.print(f"… et {len(rejected) - 50} autres")
    raise typer.Exit(1)


@cli.command("publish")
def publish(
    csv_file: Annotated[Path, typer.Option("--csv", exists=True, dir_okay=False, help="site_id,start,end,mode[,…]")],
    api: Api = "http://127.0.0.1:8000",
    token: Token = "",
    chunk: Annotated[int, typer.Option(min=1, max=5000, help="Slots per bulk request")] = 1000,
) -> None:
    """Publish the slots of a CSV file, in bulk requests; each request is all or nothing."""
    try:
        items = read_csv(csv_file)
    except CsvError as exc:
        raise typer.BadParameter(str(exc), param_hint="--csv") from exc
    created = skipped = 0
    with _client(api, token) as client, _progress() as progress:
        task = progress.add_task("Publication", total=len(items))
        for offset, part in chunks(items, chunk):
            response = client.post("/v1/slots/bulk", json={"slots": part})
            if response.status_code != 201:
                progress.stop()
                console.print(f"{created} créneaux publiés avant la ligne {offset + 2}; relancez après correction "
                              "(les lignes déjà publiées seront ignorées).")
                _fail(response, offset)
            body = response.json()
            created, skipped = created + body["created"], skipped + body["skipped"]
            progress.advance(task, len(part))
    _summary({"créneaux publiés": created, "déjà présents": skipped})


@cli.command("import-ics")
def import_ics(
    ics_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="An iCalendar (.ics) file")],
    site: Annotated[str, typer.Option(help="Site id where the slots take place")],
    mode: Annotated[str, typer.Option(help="in_person, home_visit or teleconsultation")] = "in_person",
    slot_minutes: Annotated[int | None, typer.Option(help="Cut each event into slots of this length")] = None,
    practitioner: Annotated[str | None, typer.Option(help="Practitioner id (admin tokens)")] = None,
    api: Api = "http://127.0.0.1:8000",
    token: Token = "",
) -> None:
    """Import the SNP events of a calendar (all or nothing; importing the same file again is harmless)."""
    params = {k: v for k, v in {"site_id": site, "mode": mode, "slot_minutes": slot_minutes,
                                "practitioner_id": practitioner}.items() if v is not None}
    size = ics_file.stat().st_size
    with _client(api, token) as client, _progress() as progress:
        task = progress.add_task("Envoi de l'agenda", total=size)

        def body() -> Iterator[bytes]:
            with ics_file.open("rb") as handle:
                while block := handle.read(64 * 1024):
                    progress.advance(task, len(block))
                    yield block

        response = client.post("/v1/slots/import-ics", params=params, content=body(),
                               headers={"Content-Type": "text/calendar"})
    if response.status_code != 201:
        _fail(response)
    result = response.json()
    _summary({"événements SNP": result["events"], "créneaux publiés": result["created"],
              "déjà présents": result["skipped"]})


@cli.command("extend-rules")
def extend_rules(api: Api = "http://127.0.0.1:8000", token: Token = "") -> None:
    """Generate the slots of active availability rules up to today's horizon (run it daily)."""
    with _client(api, token) as client:
        response = client.post("/v1/availability-rules/extend")
    if response.status_code != 200:
        _fail(response)
    body = response.json()
    _summary({"règles": body["rules"], "créneaux publiés": body["slots_created"], "horizon": body["horizon"]})


def _summary(values: dict[str, Any]) -> None:
    table = Table(show_header=False)
    for label, value in values.items():
        table.add_row(label, str(value))
    Console().print(table)
