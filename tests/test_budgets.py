"""No statement of the app runs for ever: every connection carries a statement timeout."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.platform.config import Settings
from app.platform.database import make_engine
from app.platform.errors import Unavailable, translate_db_error


class TestStatementBudget:
    async def test_the_apps_connections_carry_the_configured_timeouts(self, database_url, settings):
        engine = make_engine(database_url, settings.model_copy(update={
            "db_statement_timeout_ms": 1234, "db_idle_in_transaction_timeout_ms": 5678}))
        try:
            async with engine.connect() as conn:
                assert (await conn.execute(text("SHOW statement_timeout"))).scalar() == "1234ms"
                assert (await conn.execute(text("SHOW idle_in_transaction_session_timeout"))).scalar() == "5678ms"
        finally:
            await engine.dispose()

    async def test_a_statement_past_its_budget_is_cancelled_and_answered_503_with_retry_after(
        self, database_url, settings: Settings
    ):
        engine = make_engine(database_url, settings.model_copy(update={"db_statement_timeout_ms": 200}))
        began = time.monotonic()
        try:
            async with engine.connect() as conn:
                with pytest.raises(DBAPIError) as raised:
                    await conn.execute(text("SELECT pg_sleep(30)"))
        finally:
            await engine.dispose()
        assert time.monotonic() - began < 10
        error = translate_db_error(raised.value)
        assert isinstance(error, Unavailable) and error.status_code == 503


class TestDatabaseDown:
    async def test_every_request_gets_a_json_503_with_retry_after_at_once(self, settings, auth):
        import socket

        import httpx

        from app.main import create_app
        from app.platform.database import make_sessionmaker

        with socket.socket() as probe:  # a port nothing listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        # A real engine aimed at a port where no PostgreSQL listens: what the app meets when it dies.
        application = create_app(settings)
        application.state.engine = make_engine(f"postgresql+asyncpg://snp@127.0.0.1:{port}/snp", settings)
        application.state.sessionmaker = make_sessionmaker(application.state.engine)
        transport = httpx.ASGITransport(app=application)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                began = time.monotonic()
                booking = {"slot_id": "7f0c3c2e-0000-4000-8000-000000000000",
                           "call_id": "7f0c3c2e-0000-4000-8000-000000000001"}
                for method, url, body in (("GET", "/v1/calls", None), ("GET", "/v1/territories/36", None),
                                          ("POST", "/v1/bookings", booking)):
                    response = await client.request(method, url, json=body, headers=auth("regulator"))
                    assert response.status_code == 503, (url, response.text)
                    assert response.json()["error"] == "Unavailable" and response.headers["Retry-After"] == "1"
                assert time.monotonic() - began < 10
                assert (await client.get("/health")).status_code == 200
        finally:
            await application.state.engine.dispose()


class TestLimitsAtTheDoor:
    """Refused before authentication: nothing reads a giant token or body first."""

    async def test_a_giant_header_is_431_before_the_token_is_read(self, client):
        response = await client.get("/v1/calls", headers={"Authorization": "Bearer " + "x" * 100_000})
        assert response.status_code == 431
        assert response.json() == {"error": "HeadersTooLarge", "detail": response.json()["detail"],
                                   "field": "authorization"}

    async def test_a_declared_body_over_the_route_limit_is_413_before_the_401(self, client):
        response = await client.post("/v1/calls", content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                                     headers={"Content-Type": "application/json"})
        assert response.status_code == 413 and response.json()["field"] == "body"

    async def test_a_streamed_body_is_cut_off_at_the_limit(self, client, auth):
        sent = 0

        async def chunks():
            nonlocal sent
            for _ in range(64):  # 64 × 64 KiB = 4 MiB, without Content-Length
                sent += 1
                yield b" " * 65536

        response = await client.post("/v1/calls", content=chunks(), headers={**auth("operator"),
                                                                              "Content-Type": "application/json"})
        assert response.status_code == 413 and response.json()["error"] == "PayloadTooLarge"

    async def test_the_bulk_publish_and_the_imports_take_more_than_plain_json(self):
        from app.http.routes import DEFAULT_BODY_BYTES, policy_for

        def body_limit(path: str) -> int:
            return policy_for("POST", path).body_bytes

        assert body_limit("/v1/calls") == DEFAULT_BODY_BYTES
        assert body_limit("/v1/slots/bulk") > DEFAULT_BODY_BYTES
        assert body_limit("/v1/calls/import") > body_limit("/v1/slots/import-ics") > DEFAULT_BODY_BYTES
