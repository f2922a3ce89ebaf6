"""Participation evidence of an effector: hours offered per ISO week against the SAS forfait, orientations."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.platform.errors import NotFound, Unprocessable
from app.practitioners import repository as practitioner_repository
from app.slots import repository
from app.slots.schemas import Participation, ParticipationTotal, ParticipationWeek
from app.territories import service as territory_service

# The SAS participation forfait asks for at least 2 hours a week of slots open to the SAS.
FORFAIT_HOURS_PER_WEEK = 2
DEFAULT_WEEKS = 12
MAX_WEEKS = 106


async def _authorize(session: AsyncSession, principal: Principal, practitioner_id: uuid.UUID) -> str:
    """The practitioner's RPPS, if the principal may read its evidence (itself, admin, analyst of its territory)."""
    practitioner = await practitioner_repository.get(session, practitioner_id)
    missing = NotFound(f"Practitioner {practitioner_id} not found")
    if practitioner is None:
        raise missing
    if principal.role == "effector" and principal.practitioner_id != practitioner_id:
        raise missing
    if principal.role == "analyst":
        visible = await territory_service.visible_codes(session, principal) or set()
        served = (await practitioner_repository.territory_codes(session, [practitioner_id]))[practitioner_id]
        if not visible.intersection(served):
            raise missing
    return practitioner.rpps


# The SAS exists since 2020; a date out of these years is a typo, and year 1 once kept PostgreSQL
# writing temporary files for as long as it was let run.
EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2099, 12, 31)


def period(first: dt.date | None, last: dt.date | None) -> tuple[dt.date, dt.date]:
    for field, value in (("from", first), ("to", last)):
        if value is not None and not EARLIEST <= value <= LATEST:
            raise Unprocessable(f"{field}: must lie between {EARLIEST.year} and {LATEST.year}", field=field)
    last = last or dt.datetime.now(ZoneInfo("Europe/Paris")).date()
    first = first or last - dt.timedelta(weeks=DEFAULT_WEEKS - 1)
    if first > last:
        raise Unprocessable("from: must not be after to", field="from")
    if (last - first).days > MAX_WEEKS * 7:
        raise Unprocessable(f"from: the period is limited to {MAX_WEEKS} weeks", field="from")
    return first, last


async def evidence(
    session: AsyncSession, principal: Principal, practitioner_id: uuid.UUID, first: dt.date | None,
    last: dt.date | None,
) -> Participation:
    rpps = await _authorize(session, principal, practitioner_id)
    first, last = period(first, last)
    rows = await repository.participation(session, practitioner_id, first, last, FORFAIT_HOURS_PER_WEEK)
    weeks = [ParticipationWeek(**{k: r[k] for k in ParticipationWeek.model_fields}) for r in rows]
    head = rows[0]
    total = ParticipationTotal(
        weeks=head["total_weeks"], weeks_reaching_forfait=head["total_weeks_reaching_forfait"],
        slots_offered=head["total_slots_offered"], hours_offered=head["total_hours_offered"],
        orientations_received=head["total_orientations_received"], over_capacity=head["total_over_capacity"],
        fulfilled=head["total_fulfilled"],
        noshow=head["total_noshow"],
    )
    return Participation(practitioner_id=practitioner_id, rpps=rpps, from_=first, to=last,
                         forfait_hours_per_week=FORFAIT_HOURS_PER_WEEK, weeks=weeks, total=total)


CSV_HEADER = ["semaine", "debut_semaine", "creneaux_proposes", "heures_proposees", "forfait_atteint",
              "orientations_recues", "dont_surnumeraires", "honorees", "non_honorees"]


def _decimal(value: float) -> str:
    return f"{value:.2f}".replace(".", ",")


def to_csv(report: Participation) -> str:
    """French spreadsheet conventions: ``;`` between columns, decimal comma, oui/non."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for w in report.weeks:
        writer.writerow([w.week, w.week_start.isoformat(), w.slots_offered, _decimal(w.hours_offered),
                         "oui" if w.reaches_forfait else "non", w.orientations_received, w.over_capacity, w.fulfilled,
                         w.noshow])
    t = report.total
    writer.writerow(["total", "", t.slots_offered, _decimal(t.hours_offered), f"{t.weeks_reaching_forfait}/{t.weeks}",
                     t.orientations_received, t.over_capacity, t.fulfilled, t.noshow])
    return out.getvalue()
