"""Rows written straight into the tables, for report tests that do not need the import endpoint."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

UTC = dt.UTC


def this_month() -> str:
    """The month now is in, in the Indre's time: the month the report counts a call received now in (late
    on a month's last day, UTC is still in the month Paris has left)."""
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo("Europe/Paris")).strftime("%Y-%m")


def at(value: str) -> dt.datetime:
    """An instant from ISO 8601 with offset."""
    parsed = dt.datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, "give the offset"
    return parsed


async def insert_call(
    conn: AsyncConnection,
    received_at: str | dt.datetime,
    decisions: list[str] = (),  # type: ignore[assignment]
    *,
    territory: str = "36",
    channel: str = "15",
    intent: str = "inconnu",
    priority: str | None = None,
    callback_after_minutes: float | None = None,
    family_name: str | None = "Dupont",
    phone: str | None = "0600000000",
) -> uuid.UUID:
    """One call and its decisions (``"advice"``, ``"other:redirected_15"``...)."""
    received = at(received_at) if isinstance(received_at, str) else received_at
    callback = None if callback_after_minutes is None else received + dt.timedelta(minutes=callback_after_minutes)
    call_id = uuid.uuid4()
    await conn.execute(
        text(
            "INSERT INTO calls (id, territory_code, channel, received_at, priority, intent_without_sas, status, "
            "source, external_id, first_callback_at, patient_family_name, patient_given_name, patient_phone) "
            "VALUES (:id, :territory, :channel, :received, :priority, :intent, 'closed', 'import', :ext, "
            ":callback, :family, 'Jeanne', :phone)"
        ),
        {"id": call_id, "territory": territory, "channel": channel, "received": received, "priority": priority,
         "intent": intent, "ext": str(call_id), "callback": callback, "family": family_name, "phone": phone},
    )
    for decision in decisions:
        kind, _, reason = decision.partition(":")
        await conn.execute(
            text("INSERT INTO decisions (call_id, kind, other_reason, decided_at) VALUES (:c, :k, :r, :at)"),
            {"c": call_id, "k": kind, "r": reason or None, "at": received},
        )
    return call_id


async def insert_slot(
    conn: AsyncConnection,
    start: str,
    minutes: int = 20,
    *,
    territory: str = "36",
    status: str = "free",
    booking: str | None = None,
) -> uuid.UUID:
    """A slot of a fresh practitioner and site; ``booking``: None, active, fulfilled, noshow, cancelled."""
    practitioner, site, slot = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    begin = at(start)
    await conn.execute(
        text("INSERT INTO practitioners (id, rpps, family_name, given_name, specialty) "
             "VALUES (:id, :rpps, 'Martin', 'Claire', 'Médecine générale')"),
        {"id": practitioner, "rpps": str(uuid.uuid4().int)[:11]},
    )
    await conn.execute(
        text("INSERT INTO sites (id, name, kind, address, postcode, lat, lon, territory_code) "
             "VALUES (:id, 'MSP', 'msp', '1 place', '36000', 46.8, 1.69, :t)"),
        {"id": site, "t": territory},
    )
    slot_status = "booked" if booking in ("active", "fulfilled", "noshow") else status
    await conn.execute(
        text("INSERT INTO slots (id, practitioner_id, site_id, territory_code, start_at, end_at, mode, status) "
             "VALUES (:id, :p, :s, :t, :start, :end, 'in_person', :status)"),
        {"id": slot, "p": practitioner, "s": site, "t": territory, "start": begin,
         "end": begin + dt.timedelta(minutes=minutes), "status": slot_status},
    )
    if booking:
        call_id = await insert_call(conn, begin - dt.timedelta(hours=1), ["slot"], territory=territory)
        status_ = "cancelled" if booking == "cancelled" else "active"
        outcome = booking if booking in ("fulfilled", "noshow") else None
        await conn.execute(
            text("INSERT INTO bookings (slot_id, call_id, status, outcome) VALUES (:s, :c, :st, :o)"),
            {"s": slot, "c": call_id, "st": status_, "o": outcome},
        )
    return slot


async def monthly(client: Any, headers: dict[str, str], territory: str = "36", first: str = "2022-01",
                  last: str = "2022-12", **params: str) -> dict[str, Any]:
    response = await client.get(
        "/v1/stats/monthly", params={"territory": territory, "from": first, "to": last, **params}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()
