"""Slots, calls and a small world of one doctor at one site, for the booking tests."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tests.support.factories import create_practitioner, create_site

Db = AsyncConnection | AsyncEngine


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@dataclass
class World:
    practitioner: dict[str, Any]
    site: dict[str, Any]

    @property
    def practitioner_id(self) -> str:
        return self.practitioner["id"]


async def world(client: httpx.AsyncClient, auth: Any, territory: str = "36", **site_fields: Any) -> World:
    admin = auth("admin", [])
    site = await create_site(client, admin, territory=territory, **site_fields)
    # the site is his own: over-capacity appointments may be recorded there
    practitioner = await create_practitioner(client, admin, territories=[territory], site_ids=[site["id"]])
    return World(practitioner=practitioner, site=site)


async def _execute(db: Db, sql: str, params: dict[str, Any]) -> Any:
    if isinstance(db, AsyncEngine):
        async with db.begin() as conn:
            return await _execute(conn, sql, params)
    result = await db.execute(text(sql), params)
    return result.scalar() if result.returns_rows else None


async def make_slot(
    client: httpx.AsyncClient, auth: Any, w: World, *, start: dt.datetime | None = None, minutes: int = 20,
    mode: str = "in_person", audience: str = "all",
) -> str:
    """A free slot of the world's doctor at the world's site, published through POST /v1/slots."""
    start = start or now() + dt.timedelta(hours=2)
    body = {"practitioner_id": w.practitioner_id, "site_id": w.site["id"], "start": start.isoformat(),
            "end": (start + dt.timedelta(minutes=minutes)).isoformat(), "mode": mode, "audience": audience}
    response = await client.post("/v1/slots", json=body, headers=auth("admin", []))
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def make_call(
    client: httpx.AsyncClient, auth: Any, territory: str = "36", **fields: Any
) -> dict[str, Any]:
    body = {"territory_code": territory, "channel": "15", "reason": "fièvre depuis deux jours",
            "patient": {"family_name": "Durand", "given_name": "Louise", "birth_year": 1984, "sex": "F",
                        "phone": "0254000000"}, **fields}
    response = await client.post("/v1/calls", json=body, headers=auth("operator", [territory]))
    assert response.status_code == 201, response.text
    return response.json()


async def move_slot_to_the_past(db: Db, slot_id: str, hours: float = 1) -> None:
    """Simulates time passing: the slot started ``hours`` ago."""
    sql = (
        "UPDATE slots SET start_at = start_at - (start_at - now()) - make_interval(secs => :secs), "
        "end_at = end_at - (start_at - now()) - make_interval(secs => :secs) WHERE id = :id RETURNING id"
    )
    await _execute(db, sql, {"id": uuid.UUID(slot_id), "secs": hours * 3600})


async def scalar(db: Db, sql: str, **params: Any) -> Any:
    return await _execute(db, sql, params)
