"""Shared set-up of the slots tests: a doctor serving a territory, a site there, and times relative to now."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx

from tests.factories import create_practitioner, create_site

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
