"""The report as an Excel workbook: the French summary, then one row per month (CSV columns)."""

from __future__ import annotations

import io
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

from app.stats.render_csv import rows
from app.stats.render_table import KIND_LABELS, method_label, method_note
from app.stats.schemas import MonthlyReport


def xlsx_bytes(report: MonthlyReport) -> bytes:
    buffer = io.BytesIO()
    write_xlsx(report, buffer)
    return buffer.getvalue()


def write_xlsx(report: MonthlyReport, path: Path | io.BytesIO) -> None:
    book = Workbook()
    sheet = book.active
    sheet.title = "Synthèse"
    total = report.total
    sheet.append([f"SAS ambulatoire — {report.territory_name} ({report.territory})", report.from_, report.to])
    sheet["A1"].font = Font(bold=True)
    sheet.append(["Activité", "Nombre", "Part des appels"])
    sheet.append(["Appels rebasculés vers le SAS ambulatoire", total.calls, None])
    for kind, label in KIND_LABELS.items():
        count = getattr(total.decisions, kind)
        sheet.append([label, count.count, count.share])
        sheet.cell(row=sheet.max_row, column=3).number_format = "0%"
    sheet.append(["Appels portant plusieurs types de décision", total.calls_with_several_decisions, None])
    sheet.append(["Moyenne mensuelle", total.monthly_average_calls, None])
    sheet.append([f"Passages aux urgences évités (estimation, méthode : {method_label(total)})",
                  total.avoided_ed_visits.count, None])
    sheet.append([method_note(total), None, None])
    sheet.column_dimensions["A"].width = 70
    detail = book.create_sheet("Par mois")
    flat = rows(report)
    detail.append(list(flat[0]))
    for row in flat:
        detail.append(list(row.values()))
    book.save(path)
