"""Test fixtures: one real PostgreSQL per run (embedded in a temporary folder, or
``SNP_TEST_DATABASE_URL``), schema built by ``alembic upgrade head``.

Each test runs in an outer transaction rolled back at teardown; the app's sessions join it with
savepoints. Tests that need real commits and real concurrent connections use ``committed_app``
and the tables are emptied after them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker, create_async_engine

from app.auth.tokens import create_token
from app.http.dependencies import get_reads, get_report_reads, get_statements
from app.main import create_app
from app.platform import migrate
from app.platform.config import Settings
from app.platform.database import OneStatement, Parallel, normalize_url
from app.platform.embedded import EmbeddedPostgres
from app.platform.replica import Reads
from app.territories.repository import forget_scopes
from tests.support.database import SEEDED, TEST_SECRET, read_seed, reset_database


@pytest.fixture(scope="session")
def embedded_server() -> Iterator[EmbeddedPostgres | None]:
    if os.environ.get("SNP_TEST_DATABASE_URL"):
        yield None
        return
    folder = tempfile.mkdtemp(prefix="snp-test-")
    server = EmbeddedPostgres(
        folder,
        settings={"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"},
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(embedded_server: EmbeddedPostgres | None) -> str:
    url = normalize_url(os.environ["SNP_TEST_DATABASE_URL"]) if embedded_server is None else embedded_server.url()
    migrate.upgrade(url)
    asyncio.run(read_seed(url))
    assert SEEDED, "the migrations seed the départements"
    return url


@pytest.fixture(scope="session")
def shared_base(database_url: str) -> Iterator[str]:
    """One served app (one worker, no relay, no rate limits) for every module that needs a plain one, each
    emptying what it committed when it ends (``tests.support.serving.sharing``)."""
    from tests.support.serving import served

    with served(database_url) as base:
        yield base


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        env="test", database_url=database_url, jwt_secret=TEST_SECRET, log_json=True, relay_enabled=False,
        migrate_on_start=False, webhook_allowed_hosts=["127.0.0.1"],
    )


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(
        database_url, pool_size=20, max_overflow=200, pool_timeout=60,
        connect_args={"server_settings": {"timezone": "UTC"}},
    )
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as conn:
        outer = await conn.begin()
        try:
            yield conn
        finally:
            if outer.is_active:
                await outer.rollback()
            # What this process kept of the territories may come from the test's writes, now undone.
            forget_scopes()


class InSavepoints(OneStatement):
    """Each statement in a savepoint of the test's transaction, as if it had committed on its own."""

    async def fetch_row(self, statement: str, params: dict[str, Any]) -> Any:
        async with self.connection.begin_nested():
            return await super().fetch_row(statement, params)

    async def rows(self, statement: Any) -> Any:
        async with self.connection.begin_nested():
            return await super().rows(statement)


class InTurn(Parallel):
    """The test's transaction is one connection: reads meant to run at once run one after the other."""

    async def both(self, first: Any, second: Any) -> tuple[Any, Any]:
        return await self._read(first), await self._read(second)


@pytest.fixture
def app(settings: Settings, connection: AsyncConnection, engine: AsyncEngine) -> Any:
    """The app with every request inside the test's transaction (rolled back at teardown)."""
    application = create_app(settings)
    application.state.engine = engine
    sessionmaker = async_sessionmaker(
        bind=connection, expire_on_commit=False, autoflush=False, join_transaction_mode="create_savepoint"
    )
    application.state.sessionmaker = sessionmaker
    application.dependency_overrides[get_statements] = lambda: InSavepoints(connection)
    application.dependency_overrides[get_reads] = lambda: Reads(sessionmaker, None, None, parallel=InTurn)
    application.dependency_overrides[get_report_reads] = application.dependency_overrides[get_reads]
    return application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


@pytest.fixture
async def committed_app(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Any]:
    """An app whose requests really commit, each on its own pooled connection."""
    application = create_app(settings)
    application.state.engine = engine
    application.state.sessionmaker = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
    application.state.report_sessionmaker = application.state.sessionmaker  # one pool: the suite's engine
    await reset_database(engine)
    try:
        yield application
    finally:
        await reset_database(engine)


@pytest.fixture
async def committed_client(committed_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=500)
    transport = httpx.ASGITransport(app=committed_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test", limits=limits) as c:
        yield c


TokenFactory = Callable[..., dict[str, str]]


@pytest.fixture
def auth(settings: Settings) -> TokenFactory:
    """``auth("operator", ["36"])`` → Authorization headers for a token with those claims."""

    def _headers(
        role: str, territories: list[str] | None = None, practitioner_id: Any = None, sub: str | None = None,
        ttl_seconds: int = 3600, referrer_kind: str | None = None,
    ) -> dict[str, str]:
        token = create_token(
            settings, role=role, territories=territories if territories is not None else ["36"],
            practitioner_id=practitioner_id, sub=sub, ttl_seconds=ttl_seconds,
            referrer_kind=referrer_kind or ("pharmacist" if role == "referrer" else None),
        )
        return {"Authorization": f"Bearer {token}"}

    return _headers
