"""``snp bookings purge-keys`` and ``snp relay --once`` on the test database."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from app.cli import app as snp
from app.platform.config import get_settings


async def _sql(url: str, sql: str) -> list:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(sql))
            return list(result.scalars()) if result.returns_rows else []
    finally:
        await engine.dispose()


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SNP_DATABASE_URL", database_url)
    monkeypatch.setenv("SNP_LOG_LEVEL", "WARNING")
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


class TestPurgeKeys:
    def test_old_idempotency_answers_are_forgotten_and_recent_ones_kept(self, cli_env: str) -> None:
        asyncio.run(_sql(cli_env, """
            INSERT INTO idempotency_keys (principal_sub, key, request_hash, status_code, response, created_at)
            VALUES ('cli-test', 'old', 'h', 201, '{}', now() - interval '10 days'),
                   ('cli-test', 'new', 'h', 201, '{}', now())
        """))
        try:
            result = CliRunner().invoke(snp, ["bookings", "purge-keys", "--days", "7"])
            assert result.exit_code == 0, result.output
            assert "1 clé(s)" in result.output
            left = asyncio.run(_sql(cli_env, "SELECT key FROM idempotency_keys WHERE principal_sub = 'cli-test'"))
            assert left == ["new"]
        finally:
            asyncio.run(_sql(cli_env, "DELETE FROM idempotency_keys WHERE principal_sub = 'cli-test'"))

    def test_a_zero_day_window_is_refused(self, cli_env: str) -> None:
        result = CliRunner().invoke(snp, ["bookings", "purge-keys", "--days", "0"])
        assert result.exit_code == 2


class TestRelayCommand:
    def test_relay_once_returns_when_nothing_is_due(self, cli_env: str) -> None:
        result = CliRunner().invoke(snp, ["relay", "--once", "--interval", "0.1"])
        assert result.exit_code == 0, result.output
