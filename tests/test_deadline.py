"""A request past its deadline is cancelled (503, Retry-After) and so is its statement; a request whose
client has gone is cancelled too: nothing keeps waiting in PostgreSQL for an answer nobody reads."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import httpx
import pytest
from sqlalchemy.engine.url import make_url

from app.auth.tokens import create_token
from app.platform.config import Settings
from tests.support.database import TEST_SECRET
from tests.support.factories import NEW_CALL
from tests.support.instances import client_of, instance
from tests.support.serving import served

WAITING = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"


async def _connect(database_url: str) -> asyncpg.Connection:
    url = make_url(database_url)
    return await asyncpg.connect(user=url.username, password=url.password, database=url.database,
                                 host=url.query.get("host") or url.host, port=int(url.query.get("port") or url.port))


async def _until(connection: asyncpg.Connection, expected: int, seconds: float = 5.0) -> int:
    waiting = -1
    for _ in range(int(seconds / 0.05)):
        waiting = await connection.fetchval(WAITING)
        if waiting == expected:
            return waiting
        await asyncio.sleep(0.05)
    return waiting


async def _locked_call(client: httpx.AsyncClient, headers: dict, database_url: str) -> tuple[str, asyncpg.Connection]:
    call = (await client.post("/v1/calls", json=NEW_CALL, headers=headers)).json()
    holder = await _connect(database_url)
    await holder.execute("BEGIN")
    await holder.execute("SELECT 1 FROM calls WHERE id = $1 FOR UPDATE", call["id"])  # someone else is on it
    return call["id"], holder


class TestDeadline:
    async def test_past_its_deadline_a_request_is_503_and_its_statement_cancelled(
        self, committed_app, settings, engine, auth, database_url
    ):
        application = instance(settings.model_copy(update={"request_deadline_seconds": 1.0}), engine)
        regulator = auth("regulator", ["36"])
        async with client_of(application) as client:
            call_id, holder = await _locked_call(client, regulator, database_url)
            observer = await _connect(database_url)
            try:
                late = await client.post(f"/v1/calls/{call_id}/assign", json={}, headers=regulator)
                assert late.status_code == 503, late.text
                assert late.json()["error"] == "Unavailable" and late.headers["Retry-After"] == "1"
                assert await _until(observer, 0) == 0  # PostgreSQL no longer waits for it
                await holder.execute("ROLLBACK")
                done = await client.post(f"/v1/calls/{call_id}/assign", json={}, headers=regulator)
                assert done.status_code == 200, done.text  # the pool is whole
            finally:
                await holder.close()
                await observer.close()


@pytest.fixture(scope="module")
def base(database_url: str) -> Iterator[str]:
    with served(database_url) as url:
        yield url


def _headers() -> dict[str, str]:
    token = create_token(Settings(jwt_secret=TEST_SECRET), role="regulator", territories=["36"])
    return {"Authorization": f"Bearer {token}"}


async def test_a_request_whose_client_has_gone_is_cancelled_with_its_statement(base: str, database_url: str) -> None:
    async with httpx.AsyncClient(base_url=base) as client:
        call_id, holder = await _locked_call(client, _headers(), database_url)
        observer = await _connect(database_url)
        try:
            with pytest.raises(httpx.TimeoutException):
                await client.post(f"/v1/calls/{call_id}/assign", json={}, headers=_headers(), timeout=0.5)
            # the client gave up: the server stops the request, PostgreSQL stops waiting for the lock
            assert await _until(observer, 0) == 0
        finally:
            await holder.execute("ROLLBACK")
            await holder.close()
            await observer.close()
