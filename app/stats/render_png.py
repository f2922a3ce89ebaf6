"""A PNG chart of calls and decisions by month (matplotlib, no display needed)."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from app.stats.render_table import SHORT_KIND_LABELS, month_label  # noqa: E402
from app.stats.schemas import MonthlyReport  # noqa: E402

# pyplot keeps global state: one chart at a time (the API draws them in worker threads).
_PYPLOT = threading.Lock()


def png_bytes(report: MonthlyReport) -> bytes:
    buffer = io.BytesIO()
    with _PYPLOT:
        write_png(report, buffer)
    return buffer.getvalue()


def write_png(report: MonthlyReport, path: Path | io.BytesIO) -> None:
    labels = [month_label(m.month) for m in report.months]
    positions = range(len(labels))
    figure, axes = plt.subplots(figsize=(max(8, len(labels) * 0.8), 5), dpi=100)
    try:
        axes.bar(positions, [m.calls for m in report.months], color="#c9d6ea", label="Appels rebasculés")
        for kind, label in SHORT_KIND_LABELS.items():
            axes.plot(positions, [getattr(m.decisions, kind).count for m in report.months], marker="o", label=label)
        axes.set_xticks(list(positions), labels, rotation=45, ha="right")
        axes.set_ylabel("Appels")
        axes.set_title(f"SAS ambulatoire — {report.territory_name} : appels et décisions par mois")
        axes.legend()
        figure.tight_layout()
        figure.savefig(path, format="png")
    finally:
        plt.close(figure)
