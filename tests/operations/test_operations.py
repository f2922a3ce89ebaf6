"""/health, /ready and /metrics."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import create_async_engine

from app.main import create_app
from app.platform import migrate


class TestHealthAndReadiness:
    async def test_health_answers_without_a_database(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/health")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    async def test_ready_says_the_schema_is_at_the_migrations_head(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/ready")
        assert response.status_code == 200, response.text
        assert response.json()["revision"] == migrate.head_revision()

    async def test_ready_is_503_when_the_database_cannot_be_reached(self, settings) -> None:
        application = create_app(settings)
        application.state.engine = create_async_engine(
            "postgresql+asyncpg://nobody@127.0.0.1:1/none", connect_args={"timeout": 2}
        )
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://t") as c:
            response = await c.get("/ready")
        await application.state.engine.dispose()
        assert response.status_code == 503
        assert response.json()["status"] == "unavailable"


class TestMetrics:
    async def test_requests_are_counted_per_route_template(self, client: httpx.AsyncClient, auth) -> None:
        await client.get("/v1/territories/36", headers=auth("admin"))
        await client.get("/v1/territories/974", headers=auth("admin"))
        body = (await client.get("/metrics")).text
        assert 'snp_http_requests_total{method="GET",route="/v1/territories/{code}",status="200"}' in body
        assert "snp_http_request_duration_seconds_bucket" in body
        assert "/v1/territories/974" not in body
