"""Each process keeps the territory scopes it read (the codes a user sees, with their CPTS): a CPTS created
through one worker is seen by every worker's searches within about a second (a trigger on the territories
bumps the registry's generation, which each process watches), never a minute later."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable

import httpx

from tests.console.helpers import _token
from tests.support.database import TEST_SECRET
from tests.support.factories import new_rpps
from tests.support.processes import served_app
from tests.support.serving import empty

# Within this many seconds of the CPTS's creation, every worker finds its slot (the watch reads every second).
DEADLINE_SECONDS = 2.5
ENV = {"SNP_JWT_SECRET": TEST_SECRET, "SNP_RELAY_ENABLED": "false", "SNP_RATE_LIMITS_ENABLED": "false",
       "SNP_REGISTRY_CHECK_SECONDS": "1"}


def _seen_everywhere_after(since: float, everywhere: Callable[[], bool]) -> float | None:
    """Seconds from ``since`` until ``everywhere()`` holds (it asks every worker), or None past the deadline."""
    while time.monotonic() - since < DEADLINE_SECONDS + 3:
        if everywhere():
            return time.monotonic() - since
        time.sleep(0.05)
    return None


def test_a_cpts_created_on_one_worker_is_in_every_workers_scope_within_a_second(database_url: str) -> None:
    try:
        with served_app(database_url, workers=2, extra_env=ENV) as base:
            admin = {"Authorization": f"Bearer {_token('admin', ())}"}
            regulator = {"Authorization": f"Bearer {_token('regulator', ('36',))}", "Connection": "close"}
            start = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
            window = {"territory": "36", "start_from": start.isoformat(),
                      "start_to": (start + dt.timedelta(hours=2)).isoformat()}
            with httpx.Client(base_url=base, timeout=10) as c:
                # Every worker keeps the Indre's scope as it stands: no CPTS yet.
                for _ in range(20):
                    assert c.get("/v1/slots/search", params=window, headers=regulator).json()["items"] == []
                made = c.post("/v1/territories", headers=admin, json={
                    "code": "36-scope", "name": "CPTS du Boischaut", "kind": "cpts", "parent_code": "36",
                    "timezone": "Europe/Paris"})
                assert made.status_code == 201, made.text
                created = time.monotonic()
                doctor = c.post("/v1/practitioners", headers=admin, json={
                    "rpps": new_rpps(), "family_name": "Aubert", "given_name": "Léa", "territory_codes": ["36-scope"]})
                site = c.post("/v1/sites", headers=admin, json={
                    "name": "Cabinet du Boischaut", "kind": "cabinet", "address": "1 rue Haute", "postcode": "36400",
                    "lat": 46.58, "lon": 1.99, "territory_code": "36-scope"})
                slot = c.post("/v1/slots", headers=admin, json={
                    "practitioner_id": doctor.json()["id"], "site_id": site.json()["id"], "mode": "in_person",
                    "start": (start + dt.timedelta(minutes=30)).isoformat(),
                    "end": (start + dt.timedelta(minutes=50)).isoformat()})
                assert slot.status_code == 201, slot.text
                seen_everywhere_at = _seen_everywhere_after(created, lambda: all(
                    [s["id"] for s in c.get("/v1/slots/search", params=window, headers=regulator).json()["items"]]
                    == [slot.json()["id"]] for _ in range(10)))
            print(f"\nthe new CPTS in every worker's scope after {seen_everywhere_at} s")
            assert seen_everywhere_at is not None and seen_everywhere_at < DEADLINE_SECONDS
    finally:
        empty(database_url)


def test_a_territorys_new_delays_set_on_one_worker_give_every_workers_calls_their_due_time_within_a_second(
    database_url: str,
) -> None:
    """A call's entry keeps its territory's facts (its delays among them) as the scopes are kept: a delay changed
    through one worker is the one every worker's new calls are due by, within about a second."""
    admin = {"Authorization": f"Bearer {_token('admin', ())}"}
    operator = {"Authorization": f"Bearer {_token('operator', ('36',))}", "Connection": "close"}
    call = {"territory_code": "36", "channel": "15", "priority": "P1", "patient": {"phone": "0254000000"}}

    def delay(c: httpx.Client) -> float:
        made = c.post("/v1/calls", headers=operator, json=call)
        assert made.status_code == 201, made.text
        body = made.json()
        return (dt.datetime.fromisoformat(body["due_at"]) - dt.datetime.fromisoformat(body["received_at"])) \
            .total_seconds() / 60

    with served_app(database_url, workers=2, extra_env=ENV) as base, httpx.Client(base_url=base, timeout=10) as c:
        before = c.get("/v1/territories/36", headers=admin).json()["priority_delays"]
        try:
            first = {delay(c) for _ in range(20)}  # every worker keeps the Indre's facts as they stand
            assert first == {float(before["P1"])}, first
            changed = c.patch("/v1/territories/36", headers=admin,
                              json={"priority_delays": {**before, "P1": before["P1"] + 7}})
            assert changed.status_code == 200, changed.text
            seen_everywhere_at = _seen_everywhere_after(
                time.monotonic(), lambda: {delay(c) for _ in range(10)} == {float(before["P1"] + 7)})
            print(f"\nthe new delay in every worker's calls after {seen_everywhere_at} s")
            assert seen_everywhere_at is not None and seen_everywhere_at < DEADLINE_SECONDS
        finally:
            c.patch("/v1/territories/36", headers=admin, json={"priority_delays": before})
            empty(database_url)


async def test_facts_read_while_they_were_being_forgotten_are_not_kept(engine) -> None:
    """A read of a territory's facts that began before what is kept was forgotten (a territory being written)
    gives its answer but is not kept: kept, it would outlive the write by a minute."""
    import asyncio

    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from app.territories.repository import facts, forget_scopes

    sessions = async_sessionmaker(engine, expire_on_commit=False)
    forget_scopes()
    async with engine.connect() as writer:
        before = (await writer.execute(text("SELECT priority_delays FROM territories WHERE code = '36'"))).scalar()
        await writer.commit()
        try:
            await writer.execute(text("LOCK TABLE territories IN ACCESS EXCLUSIVE MODE"))
            async with sessions() as session:
                reading = asyncio.create_task(facts(session, "36"))  # waits for the lock
                await asyncio.sleep(0.3)
                assert not reading.done()
                forget_scopes()  # as a territory's write does
                await writer.rollback()
                assert (await reading).priority_delays == before
            # Written elsewhere (this process not told yet): the next read must not answer from the first.
            await writer.execute(text("UPDATE territories SET priority_delays = priority_delays || '{\"P1\": 11}' "
                                      "WHERE code = '36'"))
            await writer.commit()
            async with sessions() as session:
                assert (await facts(session, "36")).priority_delays["P1"] == 11
        finally:
            await writer.execute(text("UPDATE territories SET priority_delays = CAST(:d AS jsonb) WHERE code = '36'"),
                                 {"d": json.dumps(before)})
            await writer.commit()
            forget_scopes()
