"""The relay pushes every outbox event to the effector's webhook, signed, at least once, ids stable."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.notifications.relay import RelayConfig, backoff, deliver_once, run
from tests.bookings.helpers import make_call, make_slot, now, scalar, world
from tests.notifications.helpers import SECRET, Receiver
from tests.support.factories import create_practitioner


async def _bookings_and_a_cancellation(client, auth, engine, w, port: int) -> None:
    me = auth("effector", practitioner_id=w.practitioner_id)
    url = {"url": f"http://127.0.0.1:{port}/hooks/snp", "secret": SECRET}
    assert (await client.put("/v1/practitioners/me/webhook", json=url, headers=me)).status_code == 200
    operator = auth("operator")
    ids = []
    for i in range(3):
        slot = await make_slot(client, auth, w, start=now() + dt.timedelta(hours=2 + i))
        call = await make_call(client, auth)
        response = await client.post("/v1/bookings", json={"slot_id": slot, "call_id": call["id"]}, headers=operator)
        assert response.status_code == 201
        ids.append(response.json()["id"])
    assert (await client.post(f"/v1/bookings/{ids[0]}/cancel", headers=operator)).status_code == 200


async def _outbox(engine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT * FROM outbox_events ORDER BY seq"))
        return [dict(r) for r in rows.mappings()]


class TestRelay:
    async def test_a_webhook_down_then_up_gets_every_event_signed_with_stable_ids(
        self, committed_client, committed_app, auth, engine, port
    ):
        w = await world(committed_client, auth)
        await _bookings_and_a_cancellation(committed_client, auth, engine, w, port)
        events = await _outbox(engine)
        assert [e["kind"] for e in events] == ["booking.created"] * 3 + ["booking.cancelled"]
        config = RelayConfig(backoff_base_seconds=1.0, timeout_seconds=2)
        sessionmaker = committed_app.state.sessionmaker
        async with httpx.AsyncClient(timeout=2) as http:
            assert await deliver_once(sessionmaker, http, config) == 4  # receiver down: connection refused
            down = await _outbox(engine)
            # One try costs a dead receiver one connection: the first event failed, the others wait behind it.
            assert all(e["delivered_at"] is None and e["next_attempt_at"] > e["created_at"] for e in down)
            assert [e["attempts"] for e in down] == [1, 0, 0, 0] and down[0]["last_error"]
            assert await deliver_once(sessionmaker, http, config) == 0  # not due again before the backoff
            with Receiver(port) as receiver:
                for _ in range(50):
                    await asyncio.sleep(0.1)
                    await deliver_once(sessionmaker, http, config)
                    if await scalar(engine, "SELECT count(*) FROM outbox_events WHERE delivered_at IS NULL") == 0:
                        break
        delivered = await _outbox(engine)
        assert all(e["delivered_at"] is not None and e["last_error"] is None for e in delivered)
        assert [e["attempts"] for e in delivered] == [2, 1, 1, 1]
        got = {}
        for headers, body in receiver.received:
            expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(headers["X-SNP-Signature"], expected)
            document = json.loads(body)
            assert document["id"] == headers["X-SNP-Event-Id"]
            got[document["id"]] = document
        assert set(got) == {str(e["id"]) for e in events}  # none lost, ids as in the outbox and the feed
        first = got[str(events[0]["id"])]
        assert first["kind"] == "booking.created" and first["seq"] == events[0]["seq"]
        assert first["payload"]["booking_id"] == events[0]["payload"]["booking_id"]
        me = auth("effector", practitioner_id=w.practitioner_id)
        feed = (await committed_client.get("/v1/effectors/me/bookings", headers=me)).json()
        assert [e["id"] for e in feed["events"]] == [str(e["id"]) for e in events]

    async def test_the_backoff_counts_from_the_failure_not_from_the_batch_start(
        self, committed_client, committed_app, auth, engine, port
    ):
        """A receiver that takes a second to fail: the events are not due again a second early."""
        w = await world(committed_client, auth)
        await _bookings_and_a_cancellation(committed_client, auth, engine, w, port)
        config = RelayConfig(backoff_base_seconds=0.5, timeout_seconds=5, allowed_hosts=("127.0.0.1",))
        with Receiver(port, status=503, delay=1.0):
            async with httpx.AsyncClient(timeout=5) as http:
                assert await deliver_once(committed_app.state.sessionmaker, http, config) == 4
            # The failure came a second after the round began: the event's retry and the receiver's are still ahead.
            ahead = "SELECT count(*) FROM {} WHERE next_attempt_at > clock_timestamp()"
            assert await scalar(engine, ahead.format("outbox_events")) == 1
            assert await scalar(engine, ahead.format("webhook_receivers")) == 1

    async def test_an_error_answer_is_retried_and_two_relays_never_send_one_event_twice_at_once(
        self, committed_client, committed_app, auth, engine, port
    ):
        w = await world(committed_client, auth)
        await _bookings_and_a_cancellation(committed_client, auth, engine, w, port)
        config = RelayConfig(backoff_base_seconds=0.1, interval_seconds=0.05, batch_size=2,
                             allowed_hosts=("127.0.0.1",))
        sessionmaker = committed_app.state.sessionmaker
        with Receiver(port, status=503) as receiver:
            async with httpx.AsyncClient(timeout=2) as http:
                await deliver_once(sessionmaker, http, config)
            failed = await _outbox(engine)
            assert sum(e["last_error"] == "HTTP 503" for e in failed) == 1  # a 5xx ends the receiver's round
            receiver.status = 200
            receiver.received.clear()
            await asyncio.sleep(0.15)
            stop = asyncio.Event()
            relays = [asyncio.create_task(run(sessionmaker, config, stop)) for _ in range(2)]
            for _ in range(100):
                await asyncio.sleep(0.05)
                if await scalar(engine, "SELECT count(*) FROM outbox_events WHERE delivered_at IS NULL") == 0:
                    break
            stop.set()
            await asyncio.wait_for(asyncio.gather(*relays), timeout=10)
        ids = [h["X-SNP-Event-Id"] for h, _ in receiver.received]
        assert sorted(ids) == sorted(str(e["id"]) for e in failed)  # each exactly once after the fix

    async def test_once_stops_when_nothing_is_due_and_events_without_a_webhook_wait_in_the_feed(
        self, committed_client, committed_app, auth, engine
    ):
        w = await world(committed_client, auth)
        slot = await make_slot(committed_client, auth, w)
        call = await make_call(committed_client, auth)
        await committed_client.post("/v1/bookings", json={"slot_id": slot, "call_id": call["id"]},
                                    headers=auth("operator"))
        await asyncio.wait_for(run(committed_app.state.sessionmaker, RelayConfig(allowed_hosts=("127.0.0.1",)),
                                   asyncio.Event(), once=True), 10)
        event = (await _outbox(engine))[0]
        assert event["attempts"] == 0 and event["delivered_at"] is None


class TestPendingEventsOfOthers:
    async def test_events_waiting_for_practitioners_without_a_webhook_are_not_read_by_the_relay(
        self, client, auth, connection
    ):
        from app.notifications.relay import _PENDING

        w = await world(client, auth)
        # 3 000 events of a practitioner who reads the pull feed (no webhook), due long ago...
        await connection.execute(text(
            "INSERT INTO outbox_events (practitioner_id, kind, payload, next_attempt_at) "
            "SELECT :p, 'booking.created', '{}'::jsonb, now() - interval '1 day' FROM generate_series(1, 3000)"
        ), {"p": w.practitioner_id})
        # ... and one of a practitioner with a webhook.
        other = await create_practitioner(client, auth("admin"), ["36"])
        await connection.execute(text("UPDATE practitioners SET webhook_url = 'http://127.0.0.1:9/hook' "
                                      "WHERE id = :p"), {"p": other["id"]})
        await connection.execute(text(
            "INSERT INTO outbox_events (practitioner_id, kind, payload) VALUES (:p, 'booking.created', '{}'::jsonb)"
        ), {"p": other["id"]})
        await connection.execute(text("ANALYZE outbox_events"))
        await connection.execute(text("ANALYZE practitioners"))
        plan = (await connection.execute(text("EXPLAIN (ANALYZE, FORMAT JSON) " + _PENDING.text),
                                         {"limit": 50})).scalar_one()

        def rows_read(node: dict) -> int:
            own = node["Actual Rows"] * node["Actual Loops"] if node.get("Relation Name") == "outbox_events" else 0
            return own + sum(rows_read(child) for child in node.get("Plans", []))

        top = plan[0]["Plan"]
        assert top["Actual Rows"] == 1
        assert rows_read(top) <= 10, plan


class TestBackoff:
    def test_the_delay_doubles_and_is_capped(self) -> None:
        config = RelayConfig(backoff_base_seconds=2, backoff_max_seconds=60)
        assert [backoff(n, config) for n in range(7)] == [2, 4, 8, 16, 32, 60, 60]
        assert backoff(10_000, config) == 60


class TestNoInternalTargets:
    """An effector's webhook cannot make the relay post into the service's own network."""

    async def test_internal_and_plain_http_targets_are_refused_at_registration(self, app, client, auth):
        from tests.bookings.helpers import world as make_world

        app.state.settings = app.state.settings.model_copy(update={"webhook_allowed_hosts": []})
        w = await make_world(client, auth)
        me = auth("effector", practitioner_id=w.practitioner_id)
        for url in ("https://127.0.0.1:8443/h", "https://169.254.169.254/latest/meta-data", "https://[::1]/h",
                    "https://10.0.0.7/h", "https://192.168.1.1/h", "https://localhost/h", "https://[::ffff:127.0.0.1]/h",
                    "https://224.0.0.1/h", "http://hooks.example.org/h"):
            response = await client.put("/v1/practitioners/me/webhook", json={"url": url, "secret": SECRET},
                                        headers=me)
            assert response.status_code == 422 and response.json()["field"] == "url", (url, response.text)
        ok = await client.put("/v1/practitioners/me/webhook",
                              json={"url": "https://hooks.example.org/snp", "secret": SECRET}, headers=me)
        assert ok.status_code == 200, ok.text

    async def test_the_relay_refuses_to_connect_to_an_internal_address_whatever_the_name(self, port):
        from app.platform.outbound import guarded_client

        with Receiver(port) as receiver:
            # A name (or a number) that resolves to loopback is refused after resolution, at connect time.
            for url in (f"http://127.0.0.1:{port}/h", f"http://localhost:{port}/h", f"http://0x7f000001:{port}/h",
                        f"http://2130706433:{port}/h"):
                async with guarded_client((), timeout=2) as http:
                    with pytest.raises(httpx.ConnectError, match="non-public"):
                        await http.post(url, content=b"{}")
            assert receiver.received == []
            # The explicit allow-list (tests, local receivers) lets it through.
            async with guarded_client(("127.0.0.1",), timeout=2) as http:
                assert (await http.post(f"http://127.0.0.1:{port}/h", content=b"{}")).status_code == 200
            assert len(receiver.received) == 1

    def test_the_allow_list_stays_empty_in_production(self):
        from app.platform.config import Settings

        with pytest.raises(ValueError, match="WEBHOOK_ALLOWED_HOSTS"):
            Settings(env="production", jwt_secret="x" * 40, webhook_allowed_hosts=["127.0.0.1"])
