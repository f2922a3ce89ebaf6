"""The business gauges the alerts read (deploy/prometheus/alerts.yml), scraped from the real /metrics of a served
app on the real database: each situation made through the API (time moved on in the database where an alert
needs minutes or weeks to pass), then scraped. Counted in the database, they are the same from every worker."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.bookings.helpers import World, make_call, make_slot, world
from tests.operations.conftest import Configured
from tests.support.database import reset_database

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(body: str) -> Series:
    """Every sample of a scrape, keyed by its name and labels."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def value(series: Series, name: str, **labels: str) -> float | None:
    return series.get((name, frozenset(labels.items())))


async def scrape(client: httpx.AsyncClient) -> Series:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return parse(response.text)


async def scrape_until(client: httpx.AsyncClient, done: Callable[[Series], bool], seconds: float = 15) -> Series:
    """Scrapes until ``done`` holds of what /metrics says (what a background reader does takes a round or two)."""
    for _ in range(int(seconds / 0.2)):
        series = await scrape(client)
        if done(series):
            break
        await asyncio.sleep(0.2)
    return series


@pytest.fixture
async def served_client(shared_base: str, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The session's served app; what the test committed is emptied after it."""
    try:
        async with httpx.AsyncClient(base_url=shared_base, timeout=10) as client:
            yield client
    finally:
        await reset_database(engine)


def _ago(minutes: float) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)).isoformat()


class TestCalls:
    async def test_an_overdue_p1_is_counted_under_its_territory_and_priority_until_called_back(
        self, served_client: httpx.AsyncClient, auth
    ) -> None:
        # A P1 received 30 minutes ago (its target: 20) and a P2 received now: only the P1 is late.
        p1 = await make_call(served_client, auth, priority="P1", received_at=_ago(30))
        await make_call(served_client, auth, priority="P2")
        series = await scrape(served_client)
        assert value(series, "snp_calls_overdue", territory="36", priority="P1") == 1
        assert value(series, "snp_calls_overdue", territory="36", priority="P2") == 0
        assert value(series, "snp_calls_overdue", territory="36", priority="P3") == 0
        # The regulators see the same call late, first in their queue (the console colours it: tr.late).
        queue = (await served_client.get("/v1/calls", params={"territory": "36", "open": "true"},
                                         headers=auth("regulator", ["36"]))).json()
        assert [(c["id"], c["late"]) for c in queue][0] == (p1["id"], True)

        # Taken by a regulator, it is still late: only a callback ends that.
        regulator = auth("regulator", ["36"], sub="dr-garde")
        assert (await served_client.post(f"/v1/calls/{p1['id']}/assign", json={},
                                         headers=regulator)).status_code == 200
        assert value(await scrape(served_client), "snp_calls_overdue", territory="36", priority="P1") == 1
        assert (await served_client.post(f"/v1/calls/{p1['id']}/callback", json={},
                                         headers=regulator)).status_code == 201
        assert value(await scrape(served_client), "snp_calls_overdue", territory="36", priority="P1") == 0

    async def test_the_calls_nobody_has_taken_and_the_oldest_ones_wait(
        self, served_client: httpx.AsyncClient, auth
    ) -> None:
        old = await make_call(served_client, auth, priority="P3", received_at=_ago(40))
        await make_call(served_client, auth, priority="P3", received_at=_ago(5))
        series = await scrape(served_client)
        assert value(series, "snp_calls_untaken", territory="36") == 2
        oldest = value(series, "snp_calls_untaken_oldest_seconds", territory="36")
        assert oldest is not None and 40 * 60 <= oldest < 45 * 60, oldest

        regulator = auth("regulator", ["36"], sub="dr-garde")
        assert (await served_client.post(f"/v1/calls/{old['id']}/assign", json={},
                                         headers=regulator)).status_code == 200
        series = await scrape(served_client)
        assert value(series, "snp_calls_untaken", territory="36") == 1
        oldest = value(series, "snp_calls_untaken_oldest_seconds", territory="36")
        assert oldest is not None and 5 * 60 <= oldest < 10 * 60, oldest

    async def test_no_label_carries_anything_of_a_patient(self, served_client: httpx.AsyncClient, auth) -> None:
        await make_call(served_client, auth, priority="P1", received_at=_ago(30))
        body = (await served_client.get("/metrics")).text
        for word in ("Durand", "Louise", "0254000000", "fièvre"):
            assert word not in body


class TestSlots:
    async def test_a_territory_at_zero_that_had_slots_three_of_the_last_four_weeks(
        self, served_client: httpx.AsyncClient, auth, engine: AsyncEngine
    ) -> None:
        w: World = await world(served_client, auth)
        # Three slots published for the next hours, then moved back one, two and three weeks: the same hours of
        # the same weekday in three of the last four weeks, and none in the next 24 hours.
        start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=3)
        for weeks in (1, 2, 3):
            slot = await make_slot(served_client, auth, w, start=start + dt.timedelta(minutes=30 * weeks))
            async with engine.begin() as conn:
                await conn.execute(text("UPDATE slots SET start_at = start_at - make_interval(weeks => :w), "
                                        "end_at = end_at - make_interval(weeks => :w) WHERE id = :id"),
                                   {"w": weeks, "id": uuid.UUID(slot)})
        series = await scrape(served_client)
        assert value(series, "snp_slots_next_24h", territory="36") == 0
        assert value(series, "snp_slots_same_hours_weeks", territory="36") == 3

        # A slot published for tomorrow morning: the territory has some again.
        await make_slot(served_client, auth, w, start=start + dt.timedelta(hours=2))
        series = await scrape(served_client)
        assert value(series, "snp_slots_next_24h", territory="36") == 1
        assert value(series, "snp_slots_same_hours_weeks", territory="36") == 3


@pytest.fixture
async def declaring_client(configured: Configured, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The app whose national platform nobody answers (tests/operations/conftest.py); what the test committed is
    emptied after it."""
    try:
        async with httpx.AsyncClient(base_url=configured.base, timeout=10) as client:
            yield client
    finally:
        await reset_database(engine)


class TestDeclarations:
    async def test_appointments_the_platform_was_not_told_of_and_the_oldest_ones_age(
        self, declaring_client: httpx.AsyncClient, auth, engine: AsyncEngine
    ) -> None:
        client = declaring_client
        # Before anything is booked: the declarer has started (its cursor set), nothing waits.
        series = await scrape_until(client, lambda s: value(s, "snp_appointment_events_untold", reader="ptf") == 0)
        assert value(series, "snp_appointment_events_untold", reader="ptf") == 0
        assert value(series, "snp_appointment_events_untold_oldest_seconds", reader="ptf") == 0
        assert value(series, "snp_appointment_events_untold", reader="hub") is None  # no Hub configured

        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        call = await make_call(client, auth)
        booked = await client.post("/v1/bookings", json={"slot_id": slot, "call_id": call["id"]},
                                   headers=auth("regulator", ["36"]))
        assert booked.status_code == 201, booked.text
        # Six minutes on: the booking's event is still not told.
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE outbox_events SET created_at = created_at - interval '6 minutes' "
                                    "WHERE payload->>'booking_id' = :id"), {"id": booked.json()["id"]})
        series = await scrape_until(client, lambda s: value(s, "snp_appointment_events_untold", reader="ptf") == 1)
        assert value(series, "snp_appointment_events_untold", reader="ptf") == 1
        oldest = value(series, "snp_appointment_events_untold_oldest_seconds", reader="ptf")
        assert oldest is not None and 360 <= oldest < 420, oldest
