"""No receiver stalls the others: one that does not resolve and one that never answers back off on their
own, while a healthy neighbour gets each event once, at once, in rounds of bounded length."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from typing import Any

from sqlalchemy import text

from app.notifications.relay import RelayConfig, deliver_once
from app.platform.outbound import guarded_client
from tests.bookings.helpers import make_call, make_slot, now, world
from tests.notifications.helpers import SECRET, Receiver

CONFIG = RelayConfig(timeout_seconds=0.5, round_seconds=1.0, backoff_base_seconds=0.5, interval_seconds=0.05,
                     allowed_hosts=("127.0.0.1",))
RUN_SECONDS = 2.5


class Silent:
    """A loopback HTTP server that reads requests and never answers; counts the connections it gets."""

    def __init__(self) -> None:
        self.connections = 0

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while await reader.read(65536):
                pass
        finally:
            writer.close()

    async def __aenter__(self) -> Silent:
        self.server = await asyncio.start_server(self._hold, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.server.close()


async def _doctor_with_webhook(client, auth, url: str) -> Any:
    w = await world(client, auth)
    me = auth("effector", practitioner_id=w.practitioner_id)
    response = await client.put("/v1/practitioners/me/webhook", json={"url": url, "secret": SECRET}, headers=me)
    assert response.status_code == 200, response.text
    return w


async def _book(client, auth, w, hours: float) -> None:
    slot = await make_slot(client, auth, w, start=now() + dt.timedelta(hours=hours))
    call = await make_call(client, auth)
    response = await client.post("/v1/bookings", json={"slot_id": slot, "call_id": call["id"]},
                                 headers=auth("operator"))
    assert response.status_code == 201, response.text


async def _rows(engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(text(sql), params)).mappings()]


class TestOneReceiverFailingIsItsOwn:
    async def test_the_healthy_receiver_gets_each_event_once_while_the_bad_ones_back_off_alone(
        self, committed_client, committed_app, auth, engine, port
    ):
        client = committed_client
        async with Silent() as silent:
            with Receiver(port) as healthy:
                unresolved = await _doctor_with_webhook(client, auth, "https://receiver.invalid/hooks/snp")
                hanging = await _doctor_with_webhook(client, auth, f"http://127.0.0.1:{silent.port}/hooks/snp")
                good = await _doctor_with_webhook(client, auth, f"http://127.0.0.1:{port}/hooks/snp")
                for w in (unresolved, hanging, good):
                    await _book(client, auth, w, 2)
                    await _book(client, auth, w, 3)
                rounds: list[float] = []
                all_in: float | None = None
                late_booked = False
                began = time.monotonic()
                async with guarded_client(CONFIG.allowed_hosts, CONFIG.timeout_seconds) as http:
                    while time.monotonic() - began < RUN_SECONDS:
                        start = time.monotonic()
                        await deliver_once(committed_app.state.sessionmaker, http, CONFIG)
                        rounds.append(time.monotonic() - start)
                        if all_in is None and len(healthy.received) >= 2:
                            all_in = time.monotonic() - began
                        if not late_booked and time.monotonic() - began > 1.0:
                            await _book(client, auth, good, 4)  # while its neighbours are failing
                            late_booked = True
                        await asyncio.sleep(CONFIG.interval_seconds)

            # The healthy receiver: each event exactly once, the first ones within the first round.
            events = await _rows(engine, "SELECT id, delivered_at, attempts FROM outbox_events "
                                 "WHERE practitioner_id = :p ORDER BY seq", p=good.practitioner_id)
            got = [json.loads(body)["id"] for _, body in healthy.received]
            assert sorted(got) == sorted(str(e["id"]) for e in events) and len(events) == 3
            assert all(e["delivered_at"] is not None and e["attempts"] == 1 for e in events)
            assert all_in is not None and all_in < 5.0

            # Each round is bounded: no POST starts that could end after round_seconds.
            assert max(rounds) < CONFIG.round_seconds + 0.5, rounds

            # The bad ones: their own failures, their own backoff (tried far less often than the rounds ran).
            states = {str(r["practitioner_id"]): r for r in await _rows(engine, "SELECT * FROM webhook_receivers")}
            dns, slow, ok = (states[w.practitioner_id] for w in (unresolved, hanging, good))
            assert dns["last_error_kind"] == "dns" and "receiver.invalid" in dns["last_error"]
            assert slow["last_error_kind"] == "timeout"
            for state in (dns, slow):
                assert 1 <= state["consecutive_failures"] <= 4
                assert state["next_attempt_at"] > state["last_failure_at"]
            assert silent.connections == slow["consecutive_failures"] < len(rounds) / 3
            assert ok["consecutive_failures"] == 0 and ok["last_delivered_at"] is not None
            assert ok["next_attempt_at"] is None
            # Their events are not hammered either: the first is tried, the second waits behind it.
            for w, state in ((unresolved, dns), (hanging, slow)):
                attempts = [e["attempts"] for e in await _rows(
                    engine, "SELECT attempts FROM outbox_events WHERE practitioner_id = :p ORDER BY seq",
                    p=w.practitioner_id)]
                assert attempts == [state["consecutive_failures"], 0]

            # What the doctor reads of it (in French), what the administrators see, what /metrics counts.
            me = auth("effector", practitioner_id=unresolved.practitioner_id)
            mine = (await client.get(f"/v1/practitioners/{unresolved.practitioner_id}", headers=me)).json()
            seen = mine["webhook_delivery"]
            assert seen["status"] == "failing" and seen["last_error_kind"] == "dns" and seen["pending_events"] == 2
            assert seen["consecutive_failures"] == dns["consecutive_failures"] and seen["next_attempt_at"]
            assert "nom de domaine" in seen["message"]
            listed = (await client.get("/v1/practitioners?limit=1000", headers=auth("admin", []))).json()
            by_id = {p["id"]: p["webhook_delivery"] for p in listed}
            assert by_id[hanging.practitioner_id]["last_error_kind"] == "timeout"
            assert by_id[good.practitioner_id]["status"] == "healthy"
            assert by_id[good.practitioner_id]["pending_events"] == 0
            operator = (await client.get(f"/v1/practitioners/{good.practitioner_id}", headers=auth("operator"))).json()
            assert operator["webhook_delivery"] is None  # the doctor's and the administrators' business only
            scraped = (await client.get("/metrics")).text
            gauges = dict(line.split(" ") for line in scraped.splitlines() if line.startswith("snp_webhook_"))
            assert float(gauges["snp_webhook_receivers_failing"]) >= 2
            assert float(gauges["snp_webhook_events_pending"]) >= 4
            assert "practitioner" not in "".join(line for line in scraped.splitlines() if "snp_webhook_" in line)


class TestRegisteringAgain:
    async def test_a_new_webhook_clears_the_old_ones_failures_and_backoff(self, client, auth, connection):
        w = await _doctor_with_webhook(client, auth, "https://receiver.invalid/hooks/snp")
        await connection.execute(text(
            "INSERT INTO webhook_receivers (practitioner_id, consecutive_failures, last_error_kind, next_attempt_at) "
            "VALUES (:p, 9, 'dns', now() + interval '1 hour')"), {"p": w.practitioner_id})
        me = auth("effector", practitioner_id=w.practitioner_id)
        before = (await client.get(f"/v1/practitioners/{w.practitioner_id}", headers=me)).json()["webhook_delivery"]
        assert before["status"] == "failing" and before["consecutive_failures"] == 9
        response = await client.put("/v1/practitioners/me/webhook", headers=me,
                                    json={"url": "https://hooks.example.org/snp", "secret": SECRET})
        assert response.status_code == 200
        assert response.json()["webhook_delivery"]["status"] == "untried"
        assert (await connection.execute(text("SELECT count(*) FROM webhook_receivers WHERE practitioner_id = :p"),
                                         {"p": w.practitioner_id})).scalar() == 0
