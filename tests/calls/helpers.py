"""Calls through the API, and a booking written as the booking code would write it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.factories import create_practitioner, create_site

PATIENT = {"family_name": "Durand", "given_name": "Louise", "birth_year": 1950, "sex": "F",
           "phone": "02 54 00 00 00", "postcode": "36000"}


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


async def create_call(
    client: httpx.AsyncClient, headers: dict[str, str], territory: str = "36", **fields: Any
) -> dict[str, Any]:
    body = {"territory_code": territory, "channel": "15", "patient": PATIENT, "reason": "fièvre", **fields}
    response = await client.post("/v1/calls", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def make_booking(
    client: httpx.AsyncClient, connection: AsyncConnection, auth: Any, call_id: str, territory: str = "36"
) -> str:
    """A slot and its active booking for the call (what POST /v1/bookings leaves in the tables)."""
    admin = auth("admin", [])
    practitioner = await create_practitioner(client, admin, territories=[territory])
    site = await create_site(client, admin, territory=territory)
    start = now() + dt.timedelta(hours=2)
    slot_id = (await connection.execute(text(
        "INSERT INTO slots (practitioner_id, site_id, territory_code, start_at, end_at, mode, status) "
        "VALUES (:p, :s, :t, :start, :end, 'in_person', 'booked') RETURNING id"
    ), {"p": uuid.UUID(practitioner["id"]), "s": uuid.UUID(site["id"]), "t": territory, "start": start,
        "end": start + dt.timedelta(minutes=20)})).scalar()
    booking_id = (await connection.execute(text(
        "INSERT INTO bookings (slot_id, call_id, status) VALUES (:slot, :call, 'active') RETURNING id"
    ), {"slot": slot_id, "call": uuid.UUID(call_id)})).scalar()
    return str(booking_id)
