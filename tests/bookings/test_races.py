"""Races on real concurrent connections: every request commits on its own pooled connection."""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy import text

from tests.bookings.helpers import make_call, make_slot, scalar, world
from tests.support.factories import REDIRECTED


class TestBookingRace:
    async def test_a_hundred_clients_booking_one_slot_give_one_201_and_ninety_nine_409(
        self, committed_client, auth, engine
    ):
        w = await world(committed_client, auth)
        slot = await make_slot(committed_client, auth, w)
        calls = await asyncio.gather(*(make_call(committed_client, auth) for _ in range(100)))
        headers = auth("regulator")
        responses = await asyncio.gather(*(
            committed_client.post("/v1/bookings", json={"slot_id": slot, "call_id": c["id"]}, headers=headers)
            for c in calls
        ))
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {201: 1, 409: 99}, statuses
        assert all(r.json()["error"] == "SlotTaken" for r in responses if r.status_code == 409)
        assert await scalar(engine, "SELECT count(*) FROM bookings WHERE slot_id = :s", s=slot) == 1
        assert await scalar(engine, "SELECT count(*) FROM decisions") == 1
        assert await scalar(engine, "SELECT count(*) FROM outbox_events") == 1


class TestHoldRace:
    async def test_fifty_clients_holding_one_slot_give_one_hold(self, committed_client, auth, engine):
        w = await world(committed_client, auth)
        slot = await make_slot(committed_client, auth, w)
        calls = await asyncio.gather(*(make_call(committed_client, auth) for _ in range(50)))
        headers = auth("operator")
        responses = await asyncio.gather(*(
            committed_client.post(f"/v1/slots/{slot}/hold", json={"call_id": c["id"]}, headers=headers)
            for c in calls
        ))
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {200: 1, 409: 49}, statuses
        winner = next(r.json()["call_id"] for r in responses if r.status_code == 200)
        assert str(await scalar(engine, "SELECT held_by_call_id FROM slots WHERE id = :s", s=slot)) == winner

    async def test_a_hold_that_expires_lets_another_call_book(self, committed_client, auth, engine):
        w = await world(committed_client, auth)
        slot = await make_slot(committed_client, auth, w)
        holder, other = await make_call(committed_client, auth), await make_call(committed_client, auth)
        headers = auth("operator")
        held = await committed_client.post(f"/v1/slots/{slot}/hold", json={"call_id": holder["id"]}, headers=headers)
        assert held.status_code == 200
        blocked = await committed_client.post("/v1/bookings", json={"slot_id": slot, "call_id": other["id"]},
                                              headers=headers)
        assert blocked.status_code == 409
        async with engine.begin() as conn:  # the hold minutes pass
            await conn.execute(text("UPDATE slots SET held_until = now() - interval '1 second' WHERE id = :s"),
                               {"s": slot})
        booked = await committed_client.post("/v1/bookings", json={"slot_id": slot, "call_id": other["id"]},
                                             headers=headers)
        assert booked.status_code == 201, booked.text
        assert booked.json()["call_id"] == other["id"]


class TestIdempotentReplay:
    async def test_a_retry_after_a_client_timeout_returns_the_same_booking(self, committed_client, auth, engine):
        w = await world(committed_client, auth)
        slot = await make_slot(committed_client, auth, w)
        call = await make_call(committed_client, auth)
        headers = {**auth("regulator", sub="dr-retry"), "Idempotency-Key": "retry-1"}
        body = {"slot_id": slot, "call_id": call["id"]}
        # The first answer is lost on the way back (the client gave up waiting), but the booking committed.
        lost = asyncio.create_task(committed_client.post("/v1/bookings", json=body, headers=headers))
        done, _ = await asyncio.wait({lost}, timeout=30)
        assert done
        retry = await committed_client.post("/v1/bookings", json=body, headers=headers)
        assert retry.status_code == 201 and retry.headers.get("Idempotent-Replayed") == "true"
        assert retry.json() == lost.result().json()
        assert await scalar(engine, "SELECT count(*) FROM bookings") == 1
        # The answer (written by PostgreSQL in the booking's own statement) is the booking as it reads back.
        read = await committed_client.get(f"/v1/bookings/{retry.json()['id']}", headers=headers)
        assert read.json() == retry.json()

    async def test_twin_requests_in_flight_together_book_once_and_answer_alike(self, committed_client, auth, engine):
        w = await world(committed_client, auth)
        slot = await make_slot(committed_client, auth, w)
        call = await make_call(committed_client, auth)
        headers = {**auth("regulator", sub="dr-twin"), "Idempotency-Key": "twin-1"}
        body = {"slot_id": slot, "call_id": call["id"]}
        responses = await asyncio.gather(*(
            committed_client.post("/v1/bookings", json=body, headers=headers) for _ in range(10)
        ))
        assert {r.status_code for r in responses} == {201}
        assert len({r.json()["id"] for r in responses}) == 1
        assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 9
        assert await scalar(engine, "SELECT count(*) FROM bookings") == 1


class TestUrgencesRace:
    async def test_thirty_ed_nurses_redirecting_to_one_slot_make_one_booking_and_one_call(
        self, committed_client, auth, engine
    ):
        w = await world(committed_client, auth)
        slot = await make_slot(committed_client, auth, w)
        responses = await asyncio.gather(*(
            committed_client.post("/v1/bookings", headers=auth("urgences", sub=f"ioa-{n}"),
                                  json={"slot_id": slot, "patient": {**REDIRECTED, "birth_year": 1990 + n},
                                        "reason": "entorse"})
            for n in range(30)
        ))
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {201: 1, 409: 29}, statuses
        # The ED call exists only with its booking: the 29 refused redirections left nothing behind.
        assert await scalar(engine, "SELECT count(*) FROM calls") == 1
        assert await scalar(engine, "SELECT count(*) FROM bookings") == 1
        assert await scalar(engine, "SELECT count(*) FROM decisions") == 1
        assert await scalar(engine, "SELECT count(*) FROM outbox_events") == 1

    async def test_a_retried_redirection_replays_its_first_answer_and_makes_no_second_call(
        self, committed_client, auth, engine
    ):
        w = await world(committed_client, auth)
        slot = await make_slot(committed_client, auth, w)
        headers = {**auth("urgences", sub="ioa-retry"), "Idempotency-Key": "redirect-1"}
        body = {"slot_id": slot, "patient": {"family_name": "Petit", "birth_year": 2019, "phone": "0611223344"}}
        responses = await asyncio.gather(*(
            committed_client.post("/v1/bookings", json=body, headers=headers) for _ in range(5)
        ))
        assert {r.status_code for r in responses} == {201}
        assert len({r.json()["call_id"] for r in responses}) == 1
        assert await scalar(engine, "SELECT count(*) FROM calls") == 1
