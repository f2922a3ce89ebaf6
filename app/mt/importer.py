"""Import of a waiting list (CSV), all or nothing, as the calls import (app/calls/importer.py, whose reading machinery
it uses: the CSV reader, the pool of worker processes and its limits, the errors naming the row and the column).
Each row becomes a waiting request of source ``import``, its priority computed and its identity sealed as any other's
(``service.new_request``); one invalid row and nothing is written."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.principal import Principal
from app.calls import importer as calls_importer
from app.calls.errors import ImportRejected
from app.mt import service
from app.mt.schemas import MtImportResult, MtPatientIn
from app.platform.config import Settings
from app.platform.errors import NotFound, Unavailable, UnsupportedMediaType
from app.platform.jobs import JobOverLimit, PoolBusy, jobs_of
from app.platform.logging import log
from app.territories import repository as territory_repository
from app.territories import service as territory_service

PATIENT = ("family_name", "given_name", "birth_year", "sex", "phone", "postcode", "address", "email")
COLUMNS = ("territory_code", *PATIENT, "publics", "note")
REQUIRED = ("territory_code", "phone")
DECLARED = ("ald", "disability", "pregnancy")
MAX_ROWS = 5000  # a CPTS's waiting list; a larger file is sent in parts
MAX_REPORTED = 1000


def _check_header(header: list[str]) -> None:
    problems = [{"row": 0, "field": name, "reason": f"unknown column (known: {', '.join(COLUMNS)})"}
                for name in header if name not in COLUMNS]
    problems += [{"row": 0, "field": name, "reason": "required column missing"} for name in REQUIRED
                 if name not in header]
    if problems:
        raise ImportRejected(f"{len(problems)} header problems", rows=problems)


def _row(fields: dict[str, Any]) -> dict[str, Any]:
    """One row checked: the request's parts, or RowProblem naming the column."""
    values = {k: (v.strip() or None) if isinstance(v, str) else v for k, v in fields.items()}
    code = values.get("territory_code")
    if not code or len(code) > 40:
        raise RowProblem("territory_code", "a territory's code is required")
    publics = sorted({p.strip() for p in (values.get("publics") or "").replace(",", "|").split("|") if p.strip()})
    wrong = [p for p in publics if p not in DECLARED]
    if wrong:
        raise RowProblem("publics", f"{wrong[0]} is not declared here (ald, disability, pregnancy, separated by |)")
    note = values.get("note")
    if note is not None and len(note) > 1000:
        raise RowProblem("note", "at most 1000 characters")
    try:
        patient = MtPatientIn.model_validate({k: values[k] for k in PATIENT if values.get(k) is not None})
    except ValidationError as exc:
        error = exc.errors()[0]
        raise RowProblem(str(error["loc"][0]), error["msg"]) from exc
    if patient.phone is None:
        raise RowProblem("phone", "required: the coordination calls the patient back")
    return {"territory_code": code, "patient": patient.model_dump(exclude_none=True), "publics": publics,
            "note": note}


class RowProblem(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field, reason


def read_file(body: bytes) -> tuple[list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]:
    """The valid rows (number, parts) and the problems (row, field, reason) of a file (in a worker process)."""
    rows: list[tuple[int, dict[str, Any]]] = []
    errors: list[dict[str, Any]] = []
    for number, fields in calls_importer.csv_records(body, _check_header):
        if number > MAX_ROWS:
            raise ImportRejected(f"More than {MAX_ROWS} rows: send the file in parts",
                                 rows=[{"row": number, "field": None, "reason": f"over {MAX_ROWS} rows"}])
        if "__error__" in fields:
            errors.append({"row": number, "field": None, "reason": fields["__error__"]})
            continue
        try:
            rows.append((number, _row(fields)))
        except RowProblem as exc:
            errors.append({"row": number, "field": exc.field, "reason": exc.reason})
    return rows, errors


async def run(session: AsyncSession, principal: Principal, body: bytes, content_type: str | None, *,
              settings: Settings) -> MtImportResult:
    if calls_importer.media_type(content_type) != "csv":
        raise UnsupportedMediaType("Send the waiting list as text/csv", field="Content-Type")
    try:
        rows, errors = await jobs_of(settings).run(read_file, body, seconds=settings.import_job_seconds,
                                                   memory_mb=settings.import_job_memory_mb, owner=principal.sub)
    except JobOverLimit as exc:
        raise ImportRejected(f"Reading this file passed its {exc.limit} limit ({exc.amount}): send it in smaller parts",
                             rows=[{"row": 0, "field": None, "reason": f"over the {exc.limit} limit"}]) from exc
    except PoolBusy as exc:
        raise Unavailable("Every file reader is busy: retry in a few seconds") from exc
    if not rows and not errors:
        raise ImportRejected("The file holds no rows", rows=[{"row": 0, "field": None, "reason": "no data rows"}])
    codes = {parts["territory_code"] for _, parts in rows}
    visible = await territory_service.visible_codes(session, principal)
    if visible is not None and codes - visible:
        raise NotFound(f"Territory {sorted(codes - visible)[0]} not found", field="territory_code")
    unknown_codes = codes - await territory_repository.existing_codes(session, codes)
    postcodes = {parts["patient"]["postcode"] for _, parts in rows if parts["patient"].get("postcode")}
    unknown_postcodes = set(await territory_repository.unknown_postcodes(session, sorted(postcodes)))
    for number, parts in rows:
        if parts["territory_code"] in unknown_codes:
            errors.append({"row": number, "field": "territory_code", "reason": "unknown territory"})
        elif parts["patient"].get("postcode") in unknown_postcodes:
            errors.append({"row": number, "field": "postcode", "reason": "not a French postcode"})
    if errors:
        errors.sort(key=lambda e: e["row"])
        raise ImportRejected(f"{len({e['row'] for e in errors})} rows rejected", rows=errors[:MAX_REPORTED])
    made = [service.new_request(parts["territory_code"], "import", principal, parts["patient"], parts["publics"],
                                 note=parts["note"]) for _, parts in rows]
    session.add_all(made)
    await session.flush()
    result = MtImportResult(imported=len(made), by_priority={p: sum(r.priority == p for r in made)
                                                            for p in ("high", "medium", "normal")})
    audit.record(session, principal, "mt_requests.import",
                 detail={**result.model_dump(), "territories": sorted(codes)})
    log.info("mt.imported", rows=len(made), territories=sorted(codes))
    return result
