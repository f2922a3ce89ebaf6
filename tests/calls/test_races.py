"""Concurrent requests on real connections: the database keeps the rules."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from sqlalchemy import text

from tests.calls.helpers import CSV, create_call, csv_body, now
from tests.support.factories import create_practitioner, create_site


class TestConcurrentWrites:
    async def test_concurrent_callbacks_keep_the_earliest_as_first_callback(self, committed_client, engine, auth):
        received = now() - dt.timedelta(hours=2)
        call = await create_call(committed_client, auth("operator"), received_at=received.isoformat())
        regulator = auth("regulator")
        times = [received + dt.timedelta(minutes=m) for m in (50, 10, 70, 30, 5, 90, 20, 60)]
        responses = await asyncio.gather(*(
            committed_client.post(f"/v1/calls/{call['id']}/callback", json={"at": at.isoformat()}, headers=regulator)
            for at in times
        ))
        assert [r.status_code for r in responses] == [201] * len(times)
        async with engine.connect() as conn:
            first = (await conn.execute(text("SELECT first_callback_at FROM calls"))).scalar_one()
            attempts = (await conn.execute(text("SELECT count(*) FROM call_callbacks"))).scalar_one()
        assert first == min(times) and attempts == len(times)

    async def test_two_slot_decisions_for_one_booking_at_once_make_one(self, committed_client, engine, auth):
        call = await create_call(committed_client, auth("operator"))
        admin = auth("admin", [])
        practitioner = await create_practitioner(committed_client, admin)
        site = await create_site(committed_client, admin)
        start = now() + dt.timedelta(hours=3)
        async with engine.begin() as conn:
            slot_id = (await conn.execute(text(
                "INSERT INTO slots (practitioner_id, site_id, territory_code, start_at, end_at, mode, status) "
                "VALUES (:p, :s, '36', :start, :end, 'in_person', 'booked') RETURNING id"
            ), {"p": uuid.UUID(practitioner["id"]), "s": uuid.UUID(site["id"]), "start": start,
                "end": start + dt.timedelta(minutes=20)})).scalar_one()
            booking_id = (await conn.execute(text(
                "INSERT INTO bookings (slot_id, call_id) VALUES (:slot, :call) RETURNING id"
            ), {"slot": slot_id, "call": uuid.UUID(call["id"])})).scalar_one()
        body = {"kind": "slot", "booking_id": str(booking_id)}
        responses = await asyncio.gather(*(
            committed_client.post(f"/v1/calls/{call['id']}/decisions", json=body, headers=auth("regulator"))
            for _ in range(6)
        ))
        assert sorted(r.status_code for r in responses) == [201] + [409] * 5
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM decisions"))).scalar_one() == 1

    async def test_two_imports_of_the_same_file_at_once_write_each_call_once(self, committed_client, engine, auth):
        rows = [f"R-{i},36,15,{(dt.datetime(2022, 3, 1, tzinfo=dt.UTC) + dt.timedelta(hours=i)).isoformat()},"
                f",,,advice" for i in range(500)]
        body = csv_body(*rows)
        admin = auth("admin", [])
        responses = await asyncio.gather(*(
            committed_client.post("/v1/calls/import", content=body, headers={**admin, "Content-Type": CSV})
            for _ in range(3)
        ))
        assert [r.status_code for r in responses] == [201, 201, 201]
        assert sum(r.json()["imported"] for r in responses) == 500
        assert sum(r.json()["already_present"] for r in responses) == 1000
        async with engine.connect() as conn:
            calls = (await conn.execute(text("SELECT count(*) FROM calls"))).scalar_one()
            decisions = (await conn.execute(text("SELECT count(*) FROM decisions"))).scalar_one()
        assert calls == 500 and decisions == 500
