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


# French headers for a French spreadsheet: each segment of a flattened column name in words.
WORDS = {
    "territory": "territoire", "month": "mois", "calls": "appels", "by": "par", "channel": "canal",
    "referrer": "adresseur", "decisions": "décisions", "advice": "conseil médical", "slot": "orientation créneau",
    "prescription": "prescription", "other": "autre", "count": "nombre", "share": "part", "reason": "motif",
    "no": "pas", "answer": "de réponse", "redirected": "réorienté", "15": "15", "ed": "urgences",
    "several": "plusieurs", "without": "sans", "decision": "décision", "monthly": "moyenne", "average": "mensuelle",
    "avoided": "évités", "visits": "passages urgences", "method": "méthode", "parameters": "paramètres",
    "slots": "créneaux", "published": "publiés", "hours": "heures", "booked": "réservés", "fill": "taux",
    "rate": "de remplissage", "over": "surnuméraire", "capacity": "", "effectors": "effecteurs", "active": "actifs",
    "bookings": "rendez-vous", "fulfilled": "honorés", "noshow": "non honorés", "outcome": "retour",
    "honoured": "taux", "callback": "rappel", "delay": "délai", "called": "rappelés", "back": "",
    "median": "médiane", "minutes": "minutes", "p90": "90e centile", "within": "en moins de", "60": "60",
    "priority": "priorité", "target": "cible", "reoriented": "réorientés", "coverage": "couverture",
    "postcodes": "codes postaux", "30": "30", "km": "km", "116117": "116 117", "urgences": "urgences",
    "professionnel": "professionnel", "autre": "autre", "pharmacist": "pharmacien", "nurse": "infirmier",
    "medical": "secrétaire", "secretary": "médical", "social": "travailleur", "worker": "social",
    "professional": "professionnel", "self": "patient lui-même", "coefficients": "coefficients",
    "intent": "intention", "sas": "SAS", "with": "avec", "that": "cette", "excluded": "exclus",
    "reasons": "motifs", "formula": "formule", "declared": "déclarée",
}


# The columns of patients without a médecin traitant, whole (their parts read badly word by word).
MT_HEADERS = {
    "mt_requests": "demandes sans médecin traitant", "mt_found": "médecins traitants trouvés",
    "mt_waiting": "demandes en attente", "mt_median_days_to_find": "jours médians pour trouver",
    "mt_requests_by_source_regulation": "demandes de la régulation", "mt_requests_by_source_effector":
    "demandes d'un effecteur", "mt_requests_by_source_referrer": "demandes d'un adresseur",
    "mt_requests_by_source_self": "demandes du patient lui-même", "mt_requests_by_source_coordinator":
    "demandes de la coordination", "mt_requests_by_source_import": "demandes importées",
    "mt_accepted": "patients acceptés par un médecin", "mt_access_consultations": "consultations d'accès",
    "mt_found_share": "part trouvée des demandes closes",
    "mt_closed": "demandes closes sans médecin trouvé",
    "mt_closed_by_reason_found_elsewhere": "closes : trouvé ailleurs",
    "mt_closed_by_reason_unreachable": "closes : injoignable", "mt_closed_by_reason_moved": "closes : déménagé",
    "mt_closed_by_reason_deceased": "closes : décédé", "mt_median_waiting_days": "attente médiane (jours)",
    "mt_refusals_by_reason_no_capacity": "refus : plus de place", "mt_refusals_by_reason_publics":
    "refus : public non pris", "mt_refusals_by_reason_too_far": "refus : trop loin",
    "mt_refusals_by_reason_already_known": "refus : patient déjà connu", "mt_refusals_by_reason_other": "refus : autre",
    "mt_doctors_accepting_now": "médecins prenant de nouveaux patients (ce jour)",
    "mt_places_per_month_now": "places offertes par mois (ce jour)",
}


NOTICE_HEADERS = {
    "notices_bookings_notified": "rendez-vous annoncés au patient",
    "notices_bookings_notified_by_channel_sms": "rendez-vous annoncés par SMS",
    "notices_bookings_notified_by_channel_email": "rendez-vous annoncés par e-mail",
    "notices_reminders_sent": "rappels envoyés",
    "notices_cancelled_through_link": "annulés par le patient (lien)",
    "notices_with_reminder_bookings": "avec rappel : rendez-vous avec retour",
    "notices_with_reminder_noshow": "avec rappel : non honorés",
    "notices_with_reminder_noshow_rate": "avec rappel : taux de non-présentation (observé)",
    "notices_without_reminder_bookings": "sans rappel : rendez-vous avec retour",
    "notices_without_reminder_noshow": "sans rappel : non honorés",
    "notices_without_reminder_noshow_rate": "sans rappel : taux de non-présentation (observé)",
}


WHOLE_HEADERS = {**MT_HEADERS, **NOTICE_HEADERS}


def french_header(name: str) -> str:
    if name in WHOLE_HEADERS:
        return WHOLE_HEADERS[name]
    words = [WORDS.get(part, part) for part in name.split("_")]
    return " ".join(w for w in words if w).strip()


def to_csv_fr(report: MonthlyReport) -> str:
    """For a French spreadsheet: ``;`` between columns, decimal comma, French headers, UTF-8 with its BOM
    (so that Excel reads the accents)."""
    flat = rows(report)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([french_header(k) for k in flat[0]])
    for row in flat:
        writer.writerow([str(v).replace(".", ",") if isinstance(v, float) else v for v in row.values()])
    return "\ufeff" + buffer.getvalue()
