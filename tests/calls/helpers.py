"""Calls through the API, and a booking written as the booking code would write it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.factories import create_practitioner, create_site

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


async def _texts_holding(connection, needle: str) -> list[str]:
    """Every table.column of text or JSON that holds ``needle`` anywhere in the database."""
    columns = (await connection.execute(text(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'jsonb', 'json') "
        # public reference data: La Poste's commune names (a patient may be called Quentin, a town too)
        "AND table_name <> 'postcodes'"
    ))).all()
    found = []
    for table, column in columns:
        hit = await connection.execute(text(
            f'SELECT 1 FROM "{table}" WHERE CAST("{column}" AS text) ILIKE :needle LIMIT 1'), {"needle": f"%{needle}%"})
        if hit.first():
            found.append(f"{table}.{column}")
    return found


HEADER = "external_id,territory_code,channel,received_at,priority,intent_without_sas,first_callback_at,decisions"
CSV = "text/csv; charset=utf-8"


def csv_body(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


