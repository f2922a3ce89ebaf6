"""The report as CSV: one row per month and a last row ``total``, nested fields flattened with ``_``."""

from __future__ import annotations

import csv
import io
from typing import Any

from app.stats.schemas import MonthlyReport


def flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            flatten(f"{prefix}_{key}" if prefix else key, inner, out)
    elif isinstance(value, list):
        out[prefix] = ";".join(str(v) for v in value)
    else:
        out[prefix] = "" if value is None else value


def rows(report: MonthlyReport) -> list[dict[str, Any]]:
    """Flat rows: the months in order, then the total of the period."""
    data = report.model_dump(by_alias=True, mode="json")
    result = []
    for figures in [*data["months"], {"month": "total", **data["total"]}]:
        flat: dict[str, Any] = {"territory": data["territory"], "month": figures["month"]}
        flatten("", figures, flat)
        result.append(flat)
    return result


def to_csv(report: MonthlyReport) -> str:
    flat = rows(report)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(flat[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat)
    return buffer.getvalue()
