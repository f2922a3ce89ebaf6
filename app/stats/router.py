from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from app.auth.dependencies import AnalystDep
from app.http.dependencies import ReportReadsDep, SettingsDep
from app.http.errors import error_responses
from app.platform.config import Settings
from app.platform.errors import Unavailable, Unprocessable
from app.platform.jobs import JobOverLimit, PoolBusy, jobs_of
from app.stats import service
from app.stats.render_csv import to_csv, to_csv_fr
from app.stats.render_png import png_bytes
from app.stats.render_xlsx import xlsx_bytes
from app.stats.schemas import MonthlyReport
from app.stats.service import AVOIDED_ED_METHODS
from app.territories.schemas import CODE_PATTERN

router = APIRouter(prefix="/v1/stats", tags=["statistics"])
# What parse_month accepts (years 1900–2999), so that a month the document allows is one the API reads.
MONTH_PATTERN = "^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$"

FORMATS = ("json", "csv", "csv-fr", "xlsx", "png")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get(
    "/monthly",
    operation_id="stats_monthly",
    response_model=MonthlyReport,
    responses={
        **error_responses(401, 403, 404, 422, 503),
        200: {"content": {"text/csv": {"schema": {"type": "string"}},
                          XLSX: {"schema": {"type": "string", "format": "binary"}},
                          "image/png": {"schema": {"type": "string", "format": "binary"}}},
              "description": "The report: JSON; CSV with one row per month and a total row (csv: comma, dot, "
                             "English names; csv-fr: for a French spreadsheet, semicolon, decimal comma, French "
                             "headers, UTF-8 BOM); an Excel workbook (xlsx); a chart of calls and decisions by month "
                             "(png)"},
    },
)
async def monthly(
    reads: ReportReadsDep,
    principal: AnalystDep,
    settings: SettingsDep,
    territory: Annotated[str, Query(
        pattern=CODE_PATTERN, description="Territory code (a département includes its CPTS); FR: national")],
    from_: Annotated[str, Query(alias="from", description="First month, YYYY-MM (local time)",
                                json_schema_extra={"pattern": MONTH_PATTERN})],
    to: Annotated[str, Query(description="Last month, YYYY-MM, inclusive",
                             json_schema_extra={"pattern": MONTH_PATTERN})],
    format: Annotated[str, Query(description="json, csv, csv-fr, xlsx or png",
                                 json_schema_extra={"enum": list(FORMATS)})] = "json",
    avoided_ed_method: Annotated[
        str | None, Query(description="declared_intent or coefficients (default: the territory's setting)",
                          json_schema_extra={"enum": list(AVOIDED_ED_METHODS)})
    ] = None,
) -> MonthlyReport | Response:
    """Monthly activity report of a territory, in the form of the Indre interCPTS publication."""
    if format not in FORMATS:
        raise Unprocessable(f"format must be one of {', '.join(FORMATS)}", field="format")
    report = await service.monthly_kept(reads, settings, principal, territory, from_, to, avoided_ed_method)
    name = f"snp-stats-{report.territory}-{report.from_}-{report.to}"
    if format in ("csv", "csv-fr"):
        body = to_csv(report) if format == "csv" else to_csv_fr(report)
        return Response(body, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    if format == "xlsx":
        return Response(await _render(settings, xlsx_bytes, report, principal.sub), media_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
    if format == "png":
        return Response(await _render(settings, png_bytes, report, principal.sub), media_type="image/png")
    return report


async def _render(
    settings: Settings, render: Callable[[MonthlyReport], bytes], report: MonthlyReport, owner: str,
) -> bytes:
    """A workbook or a chart, drawn in a worker process (openpyxl and matplotlib hold the GIL)."""
    try:
        return await jobs_of(settings).run(render, report, owner=owner)
    except (JobOverLimit, PoolBusy) as exc:
        raise Unavailable("The report's file could not be drawn now: retry in a few seconds") from exc
