"""A regulator account the national platform withdraws (``active: false``, the guide's deletion) is refused at
once by every process: a served app on two workers, whose registry answers are each kept 10 s, refuses the
regulator's token on every request within about a second of the platform's PUT, and ends his open stream
with ``expired`` (``access_withdrawn``) — each worker watches the registry's generation (app/auth/revocation.py)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.auth.revocation import Watch
from app.auth.tokens import create_token, digest
from app.calls.live import Hub
from app.platform.config import Settings
from tests.support.database import TEST_SECRET
from tests.support.factories import new_rpps
from tests.support.identity_provider import Card, running_provider
from tests.support.processes import served_app
from tests.support.serving import empty

GUIDE = Path(__file__).parents[1] / "fhir" / "guide"
IDNPS = "urn:oid:1.2.250.1.71.4.2.1"
# Within this many seconds of the platform's answer, every request of the withdrawn account is refused (the
# watch reads the generation every second; a request already past its check may still finish).
DEADLINE_SECONDS = 2.5


def _regulator(national_id: str, active: bool) -> dict:
    body = json.loads((GUIDE / f"Practitioner-ExamplePractitionerRegul{2 if active else 3}.json").read_text("utf-8"))
    del body["id"]
    body["identifier"][0]["value"] = national_id
    return body


async def _listen(client: httpx.AsyncClient, headers: dict[str, str], ready: asyncio.Event,
                  ended: list[tuple[float, str, dict]]) -> None:
    async with client.stream("GET", "/v1/stream", headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        kind = None
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and kind is not None:
                if kind == "ready":
                    ready.set()
                elif kind in ("expired", "closing", "replaced", "lagging"):
                    ended.append((time.monotonic(), kind, json.loads(line.split(":", 1)[1])))
                    return


async def _from_the_platform(database_url: str, token: str, national_id: str) -> None:
    """The session a sign-in by the platform's link (origin=sas) opens: his token kept by its digest."""
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO platform_sessions (token_digest, user_id, expires_at) "
            "SELECT :digest, id, now() + interval '1 hour' FROM users WHERE national_id = :nid"),
            {"digest": digest(token), "nid": national_id})
    await engine.dispose()


async def _withdrawn_everywhere(base: str, provider_token: str, database_url: str) -> dict[str, float]:
    platform = {"Authorization": "Bearer " + create_token(Settings(jwt_secret=TEST_SECRET), role="platform")}
    regulator = {"Authorization": f"Bearer {provider_token}"}
    fresh = {**regulator, "Connection": "close"}  # a new connection each: the requests go to both workers
    national_id = "8" + RPPS
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        made = await client.post("/fhir/Practitioner", json=_regulator(national_id, True), headers=platform)
        assert made.status_code == 201, made.text
        # His rights hold in a session opened from the platform, once he accepted our terms.
        await _from_the_platform(database_url, provider_token, national_id)
        terms = (await client.get("/v1/auth/terms")).json()
        accepted = await client.post("/v1/auth/terms", json={"version": terms["version"]}, headers=regulator)
        assert accepted.status_code == 200, accepted.text
        # Every worker has his account's answer kept (10 s) before the withdrawal.
        seen = await asyncio.gather(*(client.get("/v1/me", headers=fresh) for _ in range(40)))
        assert {r.status_code for r in seen} == {200}, {r.status_code for r in seen}
        assert {r.json()["role"] for r in seen} == {"regulator"}
        ready, ended = asyncio.Event(), []
        stream = asyncio.create_task(_listen(client, regulator, ready, ended))
        await asyncio.wait_for(ready.wait(), 10)

        withdrawn = await client.put("/fhir/Practitioner", params={"identifier": f"{IDNPS}|{national_id}"},
                                     json=_regulator(national_id, False), headers=platform)
        assert withdrawn.status_code == 200 and withdrawn.json()["active"] is False, withdrawn.text
        at = time.monotonic()
        async def ask() -> tuple[float, int]:
            sent_at = time.monotonic() - at
            return sent_at, (await client.get("/v1/me", headers=fresh)).status_code

        answers: list[tuple[float, int]] = []
        while time.monotonic() - at < DEADLINE_SECONDS + 1.0:
            answers += await asyncio.gather(*(ask() for _ in range(10)))
            await asyncio.sleep(0.02)
        assert {status for _, status in answers} <= {200, 403}
        # The last request sent that was still let in: every one sent after it was refused.
        last_accepted = max((sent_at for sent_at, status in answers if status == 200), default=0.0)
        sent = len(answers)
        await asyncio.wait_for(stream, DEADLINE_SECONDS + 10)
        assert [(kind, data["reason"]) for _, kind, data in ended] == [("expired", "access_withdrawn")]
        return {"last_accepted_after": last_accepted, "stream_ended_after": ended[0][0] - at, "requests": sent}


RPPS = new_rpps()


def test_a_withdrawn_regulator_is_refused_at_once_on_every_worker(database_url: str) -> None:
    with running_provider() as provider:
        env = {"SNP_JWT_SECRET": TEST_SECRET, "SNP_RELAY_ENABLED": "false", "SNP_RATE_LIMITS_ENABLED": "false",
               "SNP_PTF_SAS_REGULATOR_TERRITORIES": "36", "SNP_REGISTRY_CHECK_SECONDS": "1",
               **provider.environment()}
        try:
            with served_app(database_url, workers=2, extra_env=env) as base:
                measured = asyncio.run(_withdrawn_everywhere(base, provider.token(Card(rpps=RPPS), ttl=600),
                                                             database_url))
        finally:
            empty(database_url)
    print(f"\nwithdrawal: last request accepted {measured['last_accepted_after']:.2f} s after the platform's "
          f"answer, stream ended after {measured['stream_ended_after']:.2f} s ({measured['requests']} requests)")
    assert measured["last_accepted_after"] < DEADLINE_SECONDS
    assert measured["stream_ended_after"] < DEADLINE_SECONDS


class TestTheWatch:
    async def test_it_forgets_at_its_first_reading_and_whenever_the_registry_changes(self, engine: AsyncEngine) -> None:
        told: list[int] = []
        watch = Watch(engine, on_change=lambda: told.append(1))
        assert await watch.check() is True  # what was kept before it may predate a change
        assert await watch.check() is False
        async with engine.begin() as connection:  # a statement on users, even of no row, is a change
            await connection.execute(text("UPDATE users SET active = active WHERE false"))
        assert await watch.check() is True
        assert await watch.check() is False
        assert told == [1, 1]

    async def test_the_hub_has_every_stream_check_its_user_at_once(self, engine: AsyncEngine) -> None:
        hub = Hub(engine, max_subscribers=10)
        subscriber = await hub.subscribe(frozenset({"36"}), owner="regulator:x")
        allowed = [True]

        async def still_allowed() -> bool:
            return allowed[0]

        events = hub.events(subscriber, still_allowed=still_allowed, recheck_seconds=3600)
        try:
            allowed[0] = False
            hub.recheck()
            assert await asyncio.wait_for(anext(events), 2) == (None, {"event": "expired",
                                                                        "reason": "access_withdrawn"})
        finally:
            await events.aclose()
            await hub.close()
