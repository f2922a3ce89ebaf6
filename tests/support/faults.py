"""Shared by the tests of this folder."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Callable

import httpx
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.factories import NEW_CALL, create_practitioner, create_site
from tests.support.snp_process import _admin


def _book_through(base: str, database_url: str, fault: Callable[[], None], label: str, late: int = 0) -> dict:
    """120 clients book, ``fault`` strikes while many are in flight, every client retries with its key
    until answered; then every acknowledged booking is in the database, none twice, one event each.
    ``late`` of the 120 start only once ``fault`` has returned: clients that arrive while the database is
    being replaced (the others may all be answered before it is gone). The tally is returned
    (``acknowledged_at``: when each answer came, on the monotonic clock)."""
    slots, calls = asyncio.run(_seed(base))
    tally: dict = {"acknowledged": [], "acknowledged_at": [], "503": 0, "transport_errors": 0, "replayed": 0,
                   "gave_up": 0, "some_in": asyncio.Event()}

    async def load() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=20, limits=httpx.Limits(max_connections=BOOKINGS)) as c:
            pairs = list(zip(slots, calls, strict=True))
            clients = [asyncio.create_task(_book_until_answered(c, slot, call, tally))
                       for slot, call in pairs[:BOOKINGS - late]]
            await tally["some_in"].wait()  # some bookings are in, many in flight
            tally["before_fault"] = len(tally["acknowledged"])
            await asyncio.to_thread(fault)
            clients += [asyncio.create_task(_book_until_answered(c, slot, call, tally))
                        for slot, call in pairs[BOOKINGS - late:]]
            await asyncio.wait_for(asyncio.gather(*clients), timeout=120)

    began = time.monotonic()
    asyncio.run(load())
    elapsed = time.monotonic() - began
    present, doubles, events = _found(database_url, tally["acknowledged"])
    print(f"{label} bookings={BOOKINGS} acknowledged={len(tally['acknowledged'])} found={present} "
          f"503={tally['503']} transport_errors={tally['transport_errors']} replayed={tally['replayed']} "
          f"gave_up={tally['gave_up']} doubles={doubles} events={events} seconds={elapsed:.1f} "
          f"before_fault={tally['before_fault']}")
    assert tally["before_fault"] < BOOKINGS, "the fault struck after the load"
    assert tally["gave_up"] == 0
    assert len(tally["acknowledged"]) == BOOKINGS and present == BOOKINGS
    assert doubles == 0 and events == BOOKINGS
    return tally


BOOKINGS = 120


async def _seed(base: str) -> tuple[list[str], list[str]]:
    admin = _admin()
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        practitioner = await create_practitioner(c, admin, ["36"])
        site = await create_site(c, admin, "36")
        start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=2)
        slots = [{"practitioner_id": practitioner["id"], "site_id": site["id"], "mode": "in_person",
                  "start": (start + dt.timedelta(minutes=20 * i)).isoformat(),
                  "end": (start + dt.timedelta(minutes=20 * i + 20)).isoformat()} for i in range(BOOKINGS)]
        published = await c.post("/v1/slots/bulk", headers=admin, json={"slots": slots})
        assert published.status_code == 201, published.text
        calls = []
        for _ in range(BOOKINGS):
            made = await c.post("/v1/calls", headers=admin, json=NEW_CALL)
            assert made.status_code == 201, made.text
            calls.append(made.json()["id"])
        return published.json()["ids"], calls


async def _book_until_answered(c: httpx.AsyncClient, slot: str, call: str, tally: dict) -> None:
    """One client: the same request and key until it gets an answer that is not 'try again'."""
    key = str(uuid.uuid4())
    headers = {**_admin(), "Idempotency-Key": key}
    for _ in range(200):
        try:
            response = await c.post("/v1/bookings", json={"slot_id": slot, "call_id": call}, headers=headers)
        except httpx.TransportError:
            tally["transport_errors"] += 1
            await asyncio.sleep(0.2)
            continue
        if response.status_code == 503:
            tally["503"] += 1
            assert response.json()["error"] == "Unavailable" and response.headers.get("Retry-After")
            await asyncio.sleep(0.2)
            continue
        assert response.status_code == 201, response.text
        tally["acknowledged"].append(response.json()["id"])
        tally["acknowledged_at"].append(time.monotonic())
        if len(tally["acknowledged"]) == BOOKINGS // 6:
            tally["some_in"].set()
        if response.headers.get("Idempotent-Replayed") == "true":
            tally["replayed"] += 1
        return
    tally["gave_up"] += 1


def _found(database_url: str, acknowledged: list[str]) -> tuple[int, int, int]:
    """(acknowledged bookings found, slots booked twice, events) in the database."""

    async def read() -> tuple[int, int, int]:
        engine = create_async_engine(database_url)
        async with engine.connect() as conn:
            ids = {str(i) for i in (await conn.execute(text("SELECT id FROM bookings"))).scalars()}
            doubles = (await conn.execute(text(
                "SELECT count(*) FROM (SELECT slot_id FROM bookings WHERE status = 'active' "
                "GROUP BY slot_id HAVING count(*) > 1) d"))).scalar_one()
            events = (await conn.execute(text("SELECT count(*) FROM outbox_events"))).scalar_one()
        await engine.dispose()
        return len(ids & set(acknowledged)), doubles, events

    # A killed postmaster's backends finish the connections they hold: the load may end before the
    # supervisor has started PostgreSQL again (it looks every 0.5 s), and a new connection is refused until it has.
    deadline = time.monotonic() + 30
    while True:
        try:
            return asyncio.run(read())
        except (ConnectionRefusedError, OSError, DBAPIError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
