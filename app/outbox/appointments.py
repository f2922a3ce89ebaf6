"""A booking as an appointment: the one projection that every teller of appointments builds its message
from — the national-platform declarer and the FHIR facade's read (FrAppointmentSAS, app/fhir/), the Hub
Santé publisher (RS-SAS-RDV, app/hub/). What a booking is told with (one query for all of them), the
status it has (as an outbox event tells it, or as it stands now), whether the telling creates the
appointment or updates it, and which appointments are not ours to tell. The wire formats stay with their
tellers; what each derives of a booking is here once."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

CREATED = "booking.created"

# What an appointment is told with: its slot's times and place, the practitioner, who booked (as the
# users registry knows him), and the identifier of an appointment an agenda declared to us.
_ROWS = text("""
    SELECT b.id, b.status, b.outcome, b.created_at, b.created_by, s.start_at, s.end_at,
           p.rpps, p.family_name, p.given_name, p.specialty_code, p.profession_code,
           si.kind AS site_kind, si.name AS site_name, si.finess AS site_finess,
           t.kind AS territory_kind, t.name AS territory_name, t.finess, t.timezone,
           COALESCE(t.parent_code, t.code) AS departement,
           u.rpps AS operator_rpps, u.national_id AS operator_national_id,
           u.sas_technical_id AS operator_technical_id, u.family_name AS operator_family_name,
           u.given_name AS operator_given_name,
           u.email AS operator_email, u.display_name AS operator_display_name, d.system, d.value,
           d.operator_system AS declared_operator_system, d.operator_value AS declared_operator_value,
           d.operator_type AS declared_operator_type, d.declared_created,
           c.channel = 'urgences' AS ed_redirection,
           c.referrer_kind IS NOT NULL AND b.created_by IS NOT DISTINCT FROM c.created_by AS booked_by_referrer
    FROM bookings b JOIN slots s ON s.id = b.slot_id JOIN practitioners p ON p.id = s.practitioner_id
    JOIN sites si ON si.id = s.site_id JOIN territories t ON t.code = s.territory_code
    JOIN calls c ON c.id = b.call_id
    LEFT JOIN users u ON u.subject = b.created_by
    LEFT JOIN declared_appointments d ON d.booking_id = b.id
    WHERE b.id = ANY(:ids)""")


async def rows(session: AsyncSession, booking_ids: list[uuid.UUID]) -> dict[uuid.UUID, RowMapping]:
    """The bookings named, each the row ``told`` and ``as_it_stands`` project."""
    return {row["id"]: row for row in (await session.execute(_ROWS, {"ids": booking_ids})).mappings()}


def event_status(kind: str, outcome: str | None) -> str:
    """The appointment's status as an outbox event tells it (the declarer's and the Hub's): booked when
    created, cancelled when cancelled, else its outcome."""
    if kind == CREATED:
        return "booked"
    if kind == "booking.cancelled":
        return "cancelled"
    return outcome or "booked"


def status_of(status: str, outcome: str | None) -> str:
    """The appointment's status as the booking stands now (what a read answers)."""
    return "cancelled" if status == "cancelled" else (outcome or "booked")


def national_id(rpps: str) -> str:
    """The national identifier of a health professional known by his RPPS: 8 followed by it."""
    return "8" + rpps


@dataclass(frozen=True)
class Appointment:
    """A booking as an appointment: no patient in it (neither message carries one)."""

    booking_id: uuid.UUID
    status: str  # booked, cancelled, fulfilled or noshow
    creates: bool  # the telling that makes it (FHIR create, Hub CreateAppointment); else an update
    start: dt.datetime
    end: dt.datetime
    created: dt.datetime
    # The practitioner whose slot it holds.
    practitioner_id: str  # his national identifier (national_id)
    practitioner_family_name: str
    practitioner_given_name: str
    specialty_code: str | None
    profession_code: str
    # Who booked: his subject ("system" when none), and what the users registry knows of him.
    booked_by: str
    # His identifiers as the registry holds them, never made up: his national id (IDNPS) as the platform gave
    # it (else 8 + his RPPS), and the SAS technical id of a regulator without one.
    operator_id: str | None
    operator_technical_id: str | None
    operator_family_name: str | None
    operator_given_name: str | None
    operator_email: str | None
    operator_display_name: str | None
    # Where: the kind of site, the slot's territory and the département it lies in.
    site_kind: str
    site_name: str
    site_finess: str | None  # the FINESS of the structure the site is (an MSP…), where known
    territory_kind: str
    territory_name: str
    finess: str | None
    timezone: str
    departement: str
    # The identifier of an appointment an agenda declared to us (system, value), else None; and who booked it
    # and when, as the declaration gave them (operator's identifier: system, value, type code).
    declared: tuple[str, str] | None
    declared_operator: tuple[str, str, str | None] | None = None
    declared_created: dt.datetime | None = None
    # Not an orientation of the SAS regulation: the ED's own redirection, or a referrer's booking for the patient
    # in front of him (docs/interop.md says why neither is declared).
    outside_regulation: bool = False

    @property
    def unidentified(self) -> str | None:
        """Why who booked cannot be named to the platform (neither his national id nor his SAS technical id
        is known here), else None: the appointment waits until he can."""
        if self.operator_id or self.operator_technical_id:
            return None
        return (f"who booked ({self.booked_by}) has neither a national id (IDNPS) nor a SAS technical id in the "
                "users registry: register it (snp users, PATCH /v1/users/{id}) and the appointment goes")

    @property
    def ours_to_tell(self) -> bool:
        """What we tell the platform and the SAMU: the appointments of the SAS regulation (its operators' and
        regulators', those booked through the platform's link). Not one an agenda declared to us (whoever booked
        it tells it), nor an ED redirection or a referrer's own booking, which are no regulation's orientation."""
        return self.declared is None and not self.outside_regulation


def _project(row: RowMapping, status: str, creates: bool) -> Appointment:
    return Appointment(
        booking_id=row["id"], status=status, creates=creates,
        start=row["start_at"], end=row["end_at"], created=row["created_at"],
        practitioner_id=national_id(row["rpps"]), practitioner_family_name=row["family_name"],
        practitioner_given_name=row["given_name"], specialty_code=row["specialty_code"],
        profession_code=row["profession_code"],
        booked_by=row["created_by"] or "system",
        operator_id=row["operator_national_id"] or (national_id(row["operator_rpps"]) if row["operator_rpps"]
                                                    else None),
        operator_technical_id=row["operator_technical_id"],
        operator_family_name=row["operator_family_name"], operator_given_name=row["operator_given_name"],
        operator_email=row["operator_email"], operator_display_name=row["operator_display_name"],
        site_kind=row["site_kind"], site_name=row["site_name"], site_finess=row["site_finess"],
        territory_kind=row["territory_kind"], territory_name=row["territory_name"],
        finess=row["finess"], timezone=row["timezone"], departement=row["departement"],
        declared=(row["system"], row["value"]) if row["system"] is not None else None,
        declared_operator=(row["declared_operator_system"], row["declared_operator_value"],
                           row["declared_operator_type"]) if row["declared_operator_system"] is not None else None,
        declared_created=row["declared_created"],
        outside_regulation=bool(row["ed_redirection"] or row["booked_by_referrer"]),
    )


def told(row: RowMapping, kind: str) -> Appointment:
    """The appointment as the outbox event ``kind`` of its booking (``rows``) tells it."""
    return _project(row, event_status(kind, row["outcome"]), kind == CREATED)


def as_it_stands(row: RowMapping) -> Appointment:
    """The appointment as its booking (``rows``) stands now."""
    return _project(row, status_of(row["status"], row["outcome"]), False)
