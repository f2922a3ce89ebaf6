"""The live stream through a real served app: a console of the Indre sees a new call, who takes it and
a re-orientation within a second or two, without patient data; a console of the Cher sees none of it."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator

import httpx
import pytest

from app.auth.tokens import create_token
from app.platform.config import Settings
from tests.support.database import TEST_SECRET
from tests.support.factories import new_rpps
from tests.support.serving import sharing


def _headers(role: str, territory: str = "36", **kw) -> dict[str, str]:
    token = create_token(Settings(jwt_secret=TEST_SECRET), role=role, territories=[territory], **kw)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def base(database_url: str, shared_base: str) -> Iterator[str]:
    with sharing(shared_base, database_url) as url:
        yield url


async def _events(client: httpx.AsyncClient, headers: dict[str, str], into: list[dict], ready: asyncio.Event) -> None:
    async with client.stream("GET", "/v1/stream", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        kind = None
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                data = json.loads(line.split(":", 1)[1])
                if kind == "ready":
                    ready.set()
                else:
                    into.append({"event": kind, **data})


async def _wait_for(events: list[dict], predicate, seconds: float = 3.0) -> dict:
    for _ in range(int(seconds / 0.05)):
        for event in events:
            if predicate(event):
                return event
        await asyncio.sleep(0.05)
    raise AssertionError(f"no such event in {events}")


async def test_a_console_sees_calls_come_taken_and_reoriented_live(base: str) -> None:
    indre, cher = [], []
    ready_indre, ready_cher = asyncio.Event(), asyncio.Event()
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        listeners = [asyncio.create_task(_events(client, _headers("operator", "36"), indre, ready_indre)),
                     asyncio.create_task(_events(client, _headers("regulator", "18"), cher, ready_cher))]
        await asyncio.wait_for(asyncio.gather(ready_indre.wait(), ready_cher.wait()), 5)
        try:
            body = {"territory_code": "36", "channel": "15", "priority": "P1", "reason": "fièvre",
                    "patient": {"family_name": "Zorglub", "phone": "0611111111"}}
            call = (await client.post("/v1/calls", json=body, headers=_headers("operator", "36"))).json()
            created = await _wait_for(indre, lambda e: e["event"] == "call.created" and e["call_id"] == call["id"])
            assert created["status"] == "waiting" and created["priority"] == "P1"
            assert "Zorglub" not in json.dumps(indre) and "0611111111" not in json.dumps(indre)

            taken = await client.post(f"/v1/calls/{call['id']}/assign", json={},
                                      headers=_headers("regulator", "36", sub="dr-house"))
            assert taken.status_code == 200, taken.text
            updated = await _wait_for(indre, lambda e: e["event"] == "call.updated" and e["assigned_to"] == "dr-house")
            assert updated["status"] == "in_progress"

            slot = await _a_slot(client, hours=3)
            booking = (await client.post("/v1/bookings", json={"slot_id": slot["id"], "call_id": call["id"]},
                                         headers=_headers("regulator", "36"))).json()
            cancelled = await client.post(f"/v1/bookings/{booking['id']}/cancel", json={"reason": "empêché"},
                                          headers=_headers("effector", "36", practitioner_id=slot["practitioner_id"]))
            assert cancelled.status_code == 200, cancelled.text
            reorient = await _wait_for(indre, lambda e: e["event"] == "call.to_reorient")
            assert reorient == {"event": "call.to_reorient", "call_id": call["id"], "territory_code": "36",
                                "booking_id": booking["id"]}
            await _wait_for(indre, lambda e: e["event"] == "call.updated" and e["status"] == "to_reorient")
            assert cher == []
        finally:
            for task in listeners:
                task.cancel()
            await asyncio.gather(*listeners, return_exceptions=True)


async def test_who_may_listen(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        assert (await client.get("/v1/stream")).status_code == 401
        assert (await client.get("/v1/stream", headers=_headers("analyst"))).status_code == 403
        me = (await client.get("/v1/me", headers=_headers("regulator", "974", sub="dr-run"))).json()
        assert me["sub"] == "dr-run" and me["role"] == "regulator"
        assert me["territories"] == [{"code": "974", "name": me["territories"][0]["name"], "kind": "departement",
                                      "timezone": "Indian/Reunion"}]
        assert me["expires_at"]


async def _raw(client: httpx.AsyncClient, headers: dict[str, str], into: list[tuple[str | None, str, dict]],
               ready: asyncio.Event) -> None:
    """Every event as (id, name, data), ``ready`` included."""
    async with client.stream("GET", "/v1/stream", headers=headers) as response:
        assert response.status_code == 200
        event_id, kind = None, None
        async for line in response.aiter_lines():
            if line.startswith("id:"):
                event_id = line.split(":", 1)[1].strip()
            elif line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                into.append((event_id, kind or "", json.loads(line.split(":", 1)[1])))
                if kind == "ready":
                    ready.set()
            elif line == "":
                event_id, kind = None, None


async def _listen(client, headers, into) -> asyncio.Task:
    ready = asyncio.Event()
    task = asyncio.create_task(_raw(client, headers, into, ready))
    await asyncio.wait_for(ready.wait(), 5)
    return task


async def _stop(*tasks: asyncio.Task) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _new_call(client, territory: str = "36") -> str:
    response = await client.post("/v1/calls", headers=_headers("operator", territory), json={
        "territory_code": territory, "channel": "15", "priority": "P1", "patient": {"phone": "0611111111"}})
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def _a_slot(client: httpx.AsyncClient, hours: float) -> dict:
    """A free Indre slot ``hours`` ahead, of a doctor and a site of its own."""
    admin = _headers("admin", "36")
    doctor = (await client.post("/v1/practitioners", headers=admin, json={
        "rpps": new_rpps(), "family_name": "Martin", "given_name": "Claire", "territory_codes": ["36"]})).json()
    site = (await client.post("/v1/sites", headers=admin, json={
        "name": "MSP", "kind": "msp", "address": "1 place", "postcode": "36000", "lat": 46.81, "lon": 1.69,
        "territory_code": "36"})).json()
    start = dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)
    slot = await client.post("/v1/slots", headers=admin, json={
        "practitioner_id": doctor["id"], "site_id": site["id"], "mode": "in_person", "start": start.isoformat(),
        "end": (start + dt.timedelta(minutes=20)).isoformat()})
    assert slot.status_code == 201, slot.text
    return slot.json()


async def _seen(events: list, predicate, seconds: float = 3.0):
    for _ in range(int(seconds / 0.05)):
        found = [e for e in events if predicate(e)]
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no such event in {events}")


async def test_a_console_that_reconnects_is_told_what_it_missed_or_to_reload(base: str) -> None:
    """Events have ids; with the last one seen, a reconnection to the same worker gets what it missed
    while its territory was read without a break (another console kept it), ``reload`` otherwise."""
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        keeper: list = []
        keeping = await _listen(client, _headers("regulator", "36", sub="keeper"), keeper)
        first: list = []
        listening = await _listen(client, _headers("operator", "36", sub="blip"), first)
        try:
            before = await _new_call(client)
            seen = await _seen(first, lambda e: e[1] == "call.created" and e[2]["call_id"] == before)
            last_id = seen[0]
            assert last_id and last_id.rsplit("-", 1)[1].isdigit()
            await _stop(listening)  # the network drops
            missed = await _new_call(client)
            await _seen(keeper, lambda e: e[1] == "call.created" and e[2]["call_id"] == missed)

            again: list = []
            back = await _listen(client, {**_headers("operator", "36", sub="blip"), "Last-Event-ID": last_id}, again)
            await _seen(again, lambda e: e[1] == "call.created" and e[2]["call_id"] == missed)
            assert again[0][1:] == ("ready", {"territories": ["36"], "resumed": True})
            assert not [e for e in again if e[1] == "reload"]
            assert [e[2]["call_id"] for e in again if e[1] == "call.created"] == [missed]  # nothing twice
            await _stop(back)

            stranger: list = []
            other = await _listen(client, {**_headers("operator", "36", sub="blip"), "Last-Event-ID": "elsewhere-3"},
                                  stranger)
            await _seen(stranger, lambda e: e[1] == "reload")
            assert stranger[0][1:] == ("ready", {"territories": ["36"], "resumed": False})
            assert stranger[1][1] == "reload"
            await _stop(other)
        finally:
            await _stop(keeping, listening)


async def test_a_territory_nobody_listened_to_meanwhile_means_reload(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        first: list = []
        cher = _headers("regulator", "18", sub="alone")
        listening = await _listen(client, cher, first)
        try:
            call = await _new_call(client, "18")
            last_id = (await _seen(first, lambda e: e[1] == "call.created" and e[2]["call_id"] == call))[0]
            await _stop(listening)
            await asyncio.sleep(1.2)  # nobody reads the Cher any more: its changes are not followed
            await _new_call(client, "18")
            again: list = []
            back = await _listen(client, {**cher, "Last-Event-ID": last_id}, again)
            await _seen(again, lambda e: e[1] == "reload")
            assert again[0][2]["resumed"] is False
            await _stop(back)
        finally:
            await _stop(listening)


async def test_a_console_is_told_when_a_slot_is_held_released_booked_and_freed(base: str) -> None:
    """Slot events, read from the holds and the outbox on the hub's tick: a console of the Indre is told
    each change of an Indre slot, a console of the Cher none of it."""
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        slot = await _a_slot(client, hours=5)
        indre: list = []
        cher: list = []
        listening = [await _listen(client, _headers("operator", "36", sub="watcher"), indre),
                     await _listen(client, _headers("operator", "18", sub="elsewhere"), cher)]
        try:
            call = await _new_call(client)
            operator = _headers("operator", "36", sub="holder")
            held = await client.post(f"/v1/slots/{slot['id']}/hold", json={"call_id": call}, headers=operator)
            assert held.status_code == 200, held.text
            event = await _seen(indre, lambda e: e[1] == "slot.held")
            # one event per kind and territory on a tick, listing the slots
            assert event[0] and event[2] == {"event": "slot.held", "territory_code": "36",
                                             "slots": [{"slot_id": slot["id"], "call_id": call}]}
            released = await client.delete(f"/v1/slots/{slot['id']}/hold", params={"call_id": call}, headers=operator)
            assert released.status_code == 204, released.text
            event = await _seen(indre, lambda e: e[1] == "slot.released")
            assert event[2] == {"event": "slot.released", "territory_code": "36", "slot_ids": [slot["id"]]}

            booking = (await client.post("/v1/bookings", json={"slot_id": slot["id"], "call_id": call},
                                         headers=_headers("regulator", "36"))).json()
            event = await _seen(indre, lambda e: e[1] == "slot.booked")
            assert event[2] == {"event": "slot.booked", "territory_code": "36", "slot_ids": [slot["id"]]}
            cancelled = await client.post(f"/v1/bookings/{booking['id']}/cancel", json={"reason": "empêché"},
                                          headers=_headers("regulator", "36"))
            assert cancelled.status_code == 200, cancelled.text
            event = await _seen(indre, lambda e: e[1] == "slot.freed")
            assert event[2] == {"event": "slot.freed", "territory_code": "36", "slot_ids": [slot["id"]]}
            # each told once, in order
            assert [e[1] for e in indre if e[1].startswith("slot.")] == [
                "slot.held", "slot.released", "slot.booked", "slot.freed"]
            assert not [e for e in cher if e[1].startswith("slot.")]
        finally:
            await _stop(*listening)
