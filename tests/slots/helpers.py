"""Shared set-up of the slots tests: a doctor serving a territory, a site there, and times relative to now."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.factories import create_practitioner, create_site

UTC = dt.UTC


@dataclass
class Doctor:
    id: str
    site_id: str
    headers: dict[str, str]


async def doctor(client: httpx.AsyncClient, auth: Any, territory: str = "36", site_territory: str | None = None,
                 **site_fields: Any) -> Doctor:
    admin = auth("admin")
    practitioner = await create_practitioner(client, admin, [territory])
    site = await create_site(client, admin, site_territory or territory, **site_fields)
    return Doctor(practitioner["id"], site["id"], auth("effector", [territory], practitioner_id=practitioner["id"]))


def at(days: float = 1, hour: int = 10, minute: int = 0) -> dt.datetime:
    """A UTC instant ``days`` from today at hour:minute (UTC)."""
    base = dt.datetime.now(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return base + dt.timedelta(days=days, minutes=minute)


def slot(site_id: str, start: dt.datetime, minutes: int = 20, mode: str = "in_person", **extra: Any) -> dict[str, Any]:
    end = start + dt.timedelta(minutes=minutes)
    return {"site_id": site_id, "start": start.isoformat(), "end": end.isoformat(), "mode": mode, **extra}


def monday_in(weeks: int) -> dt.date:
    today = dt.date.today()
    return today + dt.timedelta(days=7 - today.weekday() + 7 * (weeks - 1))


def calendar(first: dt.date, *, exdate: dt.date | None = None, extra: str = "") -> str:
    """A weekly SNP event (4 occurrences, one removed by EXDATE), a private event, and an SNP summary event."""
    ex = f"EXDATE;TZID=Europe/Paris:{stamp(exdate, 18)}\r\n" if exdate else ""
    once = first + dt.timedelta(days=2)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Cabinet//Agenda//FR\r\n"
        "BEGIN:VEVENT\r\nUID:weekly-snp@cabinet\r\nSUMMARY:Créneaux SAS\r\nCATEGORIES:SNP,SAS\r\n"
        f"DTSTART;TZID=Europe/Paris:{stamp(first, 18)}\r\nDTEND;TZID=Europe/Paris:{stamp(first, 18, 30)}\r\n"
        f"RRULE:FREQ=WEEKLY;COUNT=4\r\n{ex}END:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:dentist@private\r\nSUMMARY:Dentiste\r\n"
        f"DTSTART;TZID=Europe/Paris:{stamp(first, 9)}\r\nDTEND;TZID=Europe/Paris:{stamp(first, 10)}\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:once@cabinet\r\nSUMMARY:Permanence snp du mercredi\r\n"
        f"DTSTART:{stamp(once, 12)}Z\r\nDTEND:{stamp(once, 13)}Z\r\nEND:VEVENT\r\n"
        f"{extra}END:VCALENDAR\r\n"
    )


def stamp(day: dt.date, hour: int, minute: int = 0) -> str:
    return f"{day:%Y%m%d}T{hour:02d}{minute:02d}00"
