"""Import of historical regulation records (CSV or NDJSON), validated row by row, all or nothing.

One call per row with its decisions. Rows are checked in Python by the row model of import_rows.py
(cheap, no database round trip per row), then written by one set-based statement
(repository.IMPORT_CLOSED_CALLS): the calls with ``ON CONFLICT (territory_code, external_id) DO NOTHING``
and, in the same statement, the decisions of the calls just inserted only, so that importing a file twice
writes nothing the second time.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.principal import Principal
from app.calls import repository
from app.calls.errors import ImportRejected
from app.calls.import_rows import COLUMNS, IDENTITY, KNOWN, Row, RowError, check
from app.calls.import_rows import context as row_context
from app.calls.schemas import ImportResult
from app.platform.config import Settings
from app.platform.errors import NotFound, Unavailable, UnsupportedMediaType
from app.platform.jobs import JobOverLimit, PoolBusy, jobs_of
from app.platform.logging import log
from app.territories import repository as territory_repository
from app.territories import service as territory_service

MAX_REPORTED = 1000
REQUIRED = ("external_id", "territory_code", "channel", "received_at", "decisions")


# --- reading the body -------------------------------------------------------------------------


def media_type(content_type: str | None) -> str:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in ("text/csv", "application/csv"):
        return "csv"
    if kind in ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"):
        return "ndjson"
    raise UnsupportedMediaType(
        f"Send the file as text/csv or application/x-ndjson (got {kind or 'no Content-Type'})",
        field="Content-Type",
    )


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRejected("The file is not UTF-8", rows=[{"row": 0, "field": None, "reason": str(exc)}]) from exc


def csv_records(
    body: bytes, check_header: Callable[[list[str]], None] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(data row number, fields) of a CSV with a header; `,` or `;` separated. ``check_header`` refuses a header
    (ImportRejected): the calls' own by default (the MT requests' import reads its files here too)."""
    content = _decode(body)
    first = content.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader, [])]
    except csv.Error as exc:  # e.g. a header cell over the csv module's 128 KB field limit
        raise ImportRejected("The CSV header cannot be read", rows=[{"row": 0, "field": None, "reason": str(exc)}]
                             ) from exc
    (check_header or _check_header)(header)
    number = 0
    while True:
        number += 1
        try:
            values = next(reader, None)
        except csv.Error as exc:
            # The reader cannot go on after a malformed record: reject the file at that row.
            raise ImportRejected(
                "The CSV cannot be read", rows=[{"row": number, "field": None, "reason": str(exc)}]
            ) from exc
        if values is None:
            return
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            yield number, {"__error__": f"{len(values)} cells where the header has {len(header)}"}
            continue
        yield number, dict(zip(header, values, strict=True))


def _check_header(header: list[str]) -> None:
    problems = []
    for name in header:
        if name in IDENTITY:
            problems.append({"row": 0, "field": name, "reason": "patient names and phones are never imported"})
        elif name not in KNOWN:
            problems.append({"row": 0, "field": name, "reason": f"unknown column (known: {', '.join(COLUMNS)})"})
    for name in REQUIRED:
        if name not in header:
            problems.append({"row": 0, "field": name, "reason": "required column missing"})
    if problems:
        raise ImportRejected(f"{len(problems)} header problems", rows=problems)


def ndjson_records(body: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of an NDJSON file; blank lines are skipped."""
    for number, line in enumerate(_decode(body).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, {"__error__": f"not JSON: {exc.msg}"}
            continue
        except (ValueError, RecursionError):  # digits beyond Python's limit, absurd nesting
            yield number, {"__error__": "not JSON this service reads"}
            continue
        yield number, value if isinstance(value, dict) else {"__error__": "each line is one JSON object"}


# --- the whole file ----------------------------------------------------------------------------


def parse(body: bytes, kind: str, *, skew_seconds: int) -> tuple[list[Row], list[dict[str, Any]]]:
    """Valid rows and the list of rejected rows (row, field, reason)."""
    limits = row_context(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=skew_seconds))
    records = csv_records(body) if kind == "csv" else ndjson_records(body)
    rows: list[Row] = []
    errors: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    for number, fields in records:
        try:
            row = check(number, fields, limits)
        except RowError as exc:
            errors.append({"row": number, "field": exc.field, "reason": exc.reason})
            continue
        key = (row.territory_code, row.external_id)
        if key in seen:
            errors.append({"row": number, "field": "external_id", "reason": f"repeats row {seen[key]}"})
            continue
        seen[key] = number
        rows.append(row)
    return rows, errors


# What crosses from the worker process that reads the file to the request: each column of the insert as
# one string, its values joined by SEP (a control character refused in any value), so that the request
# splits a few long strings instead of unpickling a million objects (measured on 750 000 rows: 13 s to
# unpickle the rows, 0.5 s to split the columns).
SEP = "\x1f"
NULLABLE = ("priority", "first_callback_at", "postcode", "birth_year", "sex", "d_other_reason",
            "d_pharmacy_name", "d_pharmacy_finess")
MAX_ERRORS_KEPT = 10 * MAX_REPORTED


@dataclass
class Parsed:
    """A file read and checked in a worker: its valid rows as columns, and what was wrong."""

    rows: int
    numbers: str  # the valid rows' numbers, joined by SEP
    columns: dict[str, str]
    errors: list[dict[str, Any]]  # the first MAX_ERRORS_KEPT
    rejected: int  # rows with at least one error

    def column(self, name: str) -> list[str | None]:
        text_ = self.columns[name]
        count = self.rows if not name.startswith("d_") else self.decisions
        if count == 0:
            return []
        values: list[str | None] = list(text_.split(SEP))
        if name in NULLABLE:
            values = [v or None for v in values]
        return values

    @property
    def decisions(self) -> int:
        first = self.columns["d_kind"]
        return 0 if not first else first.count(SEP) + 1

    def row_numbers(self) -> list[int]:
        return [int(n) for n in self.numbers.split(SEP)] if self.rows else []


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


def read_file(body: bytes, kind: str, skew_seconds: int) -> Parsed:
    """Read and check a whole file (in a worker process: app/platform/jobs.py)."""
    rows, errors = parse(body, kind, skew_seconds=skew_seconds)
    clean: list[Row] = []
    for row in rows:  # a value holding SEP would shift every column after it
        if any(SEP in v for v in _texts(row)):
            errors.append({"row": row.number, "field": None, "reason": "a control character (U+001F) in a value"})
        else:
            clean.append(row)
    rejected = len({e["row"] for e in errors})
    errors.sort(key=lambda e: e["row"])
    params = _parameters(clean)
    columns = {name: SEP.join(_as_text(v) for v in values) for name, values in params.items()}
    return Parsed(rows=len(clean), numbers=SEP.join(str(r.number) for r in clean), columns=columns,
                  errors=errors[:MAX_ERRORS_KEPT], rejected=rejected)


def _texts(row: Row) -> Iterator[str]:
    for value in (row.external_id, row.territory_code, row.channel, row.priority, row.intent, row.postcode,
                  row.sex):
        if value:
            yield value
    for decision in row.decisions:
        yield from (v for v in decision if v)


async def _check_territories(session: AsyncSession, principal: Principal, parsed: Parsed) -> list[dict[str, Any]]:
    codes_of_rows = parsed.column("territory_code")
    codes = {c for c in codes_of_rows if c is not None}
    visible = await territory_service.visible_codes(session, principal)
    if visible is not None:
        foreign = sorted(codes - visible)
        if foreign:
            raise NotFound(f"Territory {foreign[0]} not found", field="territory_code")
        return []
    unknown = codes - await territory_repository.existing_codes(session, codes)
    if not unknown:
        return []
    return [{"row": number, "field": "territory_code", "reason": "unknown territory"}
            for number, code in zip(parsed.row_numbers(), codes_of_rows, strict=True) if code in unknown]


def _reject(errors: list[dict[str, Any]], rejected: int) -> ImportRejected:
    errors.sort(key=lambda e: e["row"])
    return ImportRejected(f"{rejected} rows rejected", rows=errors[:MAX_REPORTED])


def _parameters(rows: list[Row]) -> dict[str, Any]:
    """The arrays of repository.IMPORT_CLOSED_CALLS, by name."""
    params: dict[str, Any] = {
        "territory_code": [r.territory_code for r in rows], "external_id": [r.external_id for r in rows],
        "channel": [r.channel for r in rows], "received_at": [r.received_at for r in rows],
        "priority": [r.priority for r in rows], "intent": [r.intent for r in rows],
        "first_callback_at": [r.first_callback_at for r in rows], "closed_at": [r.closed_at for r in rows],
        "postcode": [r.postcode for r in rows], "birth_year": [r.birth_year for r in rows],
        "sex": [r.sex for r in rows],
    }
    decisions = [(r.territory_code, r.external_id, *d) for r in rows for d in r.decisions]
    names = ("territory_code", "external_id", "kind", "other_reason", "pharmacy_name", "pharmacy_finess")
    for index, name in enumerate(names):
        params[f"d_{name}"] = [d[index] for d in decisions]
    return params


async def run(
    session: AsyncSession, principal: Principal, body: bytes, content_type: str | None, *, skew_seconds: int,
    settings: Settings,
) -> ImportResult:
    kind = media_type(content_type)
    try:
        parsed = await jobs_of(settings).run(read_file, body, kind, skew_seconds, seconds=settings.import_job_seconds,
                                             memory_mb=settings.import_job_memory_mb, owner=principal.sub)
    except JobOverLimit as exc:
        raise ImportRejected(f"Reading this file passed its {exc.limit} limit ({exc.amount}): send it in smaller parts",
                             rows=[{"row": 0, "field": None, "reason": f"over the {exc.limit} limit"}]) from exc
    except PoolBusy as exc:
        raise Unavailable("Every file reader is busy: retry in a few seconds") from exc
    if not parsed.rows and not parsed.errors:
        raise ImportRejected("The file holds no rows", rows=[{"row": 0, "field": None, "reason": "no data rows"}])
    unknown = await _check_territories(session, principal, parsed)
    if parsed.errors or unknown:
        rejected = parsed.rejected + len({e["row"] for e in unknown} - {e["row"] for e in parsed.errors})
        raise _reject(parsed.errors + unknown, rejected)
    columns = {name: parsed.column(name) for name in parsed.columns}
    imported, decisions = await repository.import_closed_calls(session, columns, actor=principal.sub)
    summary = ImportResult(imported=imported, already_present=parsed.rows - imported, decisions=decisions)
    audit.record(session, principal, "calls.import", detail={"format": kind, **summary.model_dump()})
    await session.flush()
    log.info("calls.imported", format=kind, rows=parsed.rows, **summary.model_dump())
    return summary
