"""The report as the French table of the Indre publication (rich), with the monthly detail."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from rich.console import Group
from rich.table import Table

from app.stats.schemas import MonthlyReport, PeriodFigures

MONTH_NAMES = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
               "novembre", "décembre")
KIND_LABELS = {
    "advice": "Conseils médicaux",
    "slot": "Orientations vers un créneau de SNP",
    "prescription": "Prescriptions transmises à la pharmacie",
    "other": "Autres situations",
}
SHORT_KIND_LABELS = {"advice": "Conseils", "slot": "Créneaux", "prescription": "Prescriptions", "other": "Autres"}
METHOD_LABELS = {"declared_intent": "intention déclarée", "coefficients": "coefficients par décision"}


def integer(value: float) -> str:
    """French grouping: 17 232."""
    rounded = int(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return f"{rounded:,}".replace(",", " ")


def decimal(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}".replace(",", " ").replace(".", ",")


def percent(share: float) -> str:
    """A share as printed: whole percent, half up (0.42345 → 42 %)."""
    return f"{int(Decimal(str(share * 100)).quantize(Decimal(1), rounding=ROUND_HALF_UP))} %"


def month_label(month: str) -> str:
    year, number = month.split("-")
    return f"{MONTH_NAMES[int(number) - 1]} {year}"


def method_label(figures: PeriodFigures) -> str:
    return METHOD_LABELS[figures.avoided_ed_visits.method]


def method_note(figures: PeriodFigures) -> str:
    """How the avoided ED visits were estimated, with the parameters used."""
    avoided = figures.avoided_ed_visits
    if avoided.method == "coefficients":
        coefficients = avoided.parameters.get("coefficients", {})
        parts = ", ".join(f"{SHORT_KIND_LABELS[k].lower()} {decimal(float(v), 2)}" for k, v in coefficients.items())
        return f"Urgences évitées : coefficients par décision ({parts}) × appels de chaque type, arrondi."
    return ("Urgences évitées : appels dont l'intention déclarée sans le SAS était les urgences, "
            "hors réorientation vers les urgences ou le 15.")


def summary(report: MonthlyReport) -> Table:
    total = report.total
    title = (f"SAS ambulatoire — {report.territory_name} ({report.territory}) — "
             f"{month_label(report.from_)} à {month_label(report.to)}")
    table = Table(title=title, caption=method_note(total), show_header=True, header_style="bold")
    table.add_column("Activité")
    table.add_column("Nombre", justify="right")
    table.add_column("Part des appels", justify="right")
    table.add_row("Appels rebasculés vers le SAS ambulatoire", integer(total.calls), "")
    for kind, label in KIND_LABELS.items():
        count = getattr(total.decisions, kind)
        table.add_row(label, integer(count.count), percent(count.share))
    table.add_row("Appels portant plusieurs types de décision", integer(total.calls_with_several_decisions), "")
    table.add_row("Moyenne mensuelle", f"{integer(total.monthly_average_calls)} appels", "")
    table.add_row(f"Passages aux urgences évités (estimation, méthode : {method_label(total)})",
                  integer(total.avoided_ed_visits.count), "")
    table.add_section()
    table.add_row("Créneaux de SNP publiés (heures)",
                  f"{integer(total.slots.published)} ({decimal(total.slots.published_hours)} h)", "")
    table.add_row("Créneaux réservés (taux de remplissage)", integer(total.slots.booked),
                  percent(total.slots.fill_rate))
    table.add_row("Effecteurs ayant ouvert des créneaux", integer(total.slots.effectors_active), "")
    table.add_row("Rendez-vous en surnuméraire", integer(total.slots.over_capacity), "")
    table.add_row("Appels réorientés après une annulation", integer(total.calls_reoriented), "")
    if total.coverage is not None:
        table.add_row("Codes postaux à moins de 30 km d'un lieu de consultation",
                      f"{integer(total.coverage.within_30_km)} / {integer(total.coverage.postcodes)}",
                      percent(total.coverage.share))
    table.add_row("Rendez-vous honorés / non honorés / sans retour",
                  f"{integer(total.bookings.fulfilled)} / {integer(total.bookings.noshow)} / "
                  f"{integer(total.bookings.without_outcome)}", percent(total.bookings.honoured_rate))
    delay = total.callback_delay
    table.add_row("Délai de rappel médian / 90e centile (minutes)",
                  f"{decimal(delay.median_minutes)} / {decimal(delay.p90_minutes)}", "")
    table.add_row("Rappels en moins de 60 minutes", "", percent(delay.share_within_60_minutes))
    table.add_row("Rappels dans le délai cible de la priorité", "", percent(delay.share_within_priority_target))
    return table


def by_month(report: MonthlyReport) -> Table:
    table = Table(title="Détail mensuel", header_style="bold")
    for label in ("Mois", "Appels", *SHORT_KIND_LABELS.values(), "Urgences évitées"):
        table.add_column(label, justify="left" if label == "Mois" else "right")
    for month in report.months:
        counts = [f"{integer(getattr(month.decisions, k).count)} ({percent(getattr(month.decisions, k).share)})"
                  for k in SHORT_KIND_LABELS]
        table.add_row(month_label(month.month), integer(month.calls), *counts, integer(month.avoided_ed_visits.count))
    return table


def render(report: MonthlyReport) -> Group:
    return Group(summary(report), by_month(report))
