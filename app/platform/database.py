"""Engine, sessions and the one-request-one-transaction dependency.

The session dependency has ``scope="function"``: its commit runs when the endpoint returns and
before the response is sent, so a client is never told 201 for a write that then fails to commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any, Protocol, TypeVar

import asyncpg
from sqlalchemy import Executable, MetaData, RowMapping, TextClause, event, text
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

from app.platform.config import Settings
from app.platform.embedded import EmbeddedPostgres
from app.platform.errors import connection_lost

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def embedded_for(settings: Settings) -> EmbeddedPostgres:
    return EmbeddedPostgres(settings.data_dir)


def resolve_database_url(settings: Settings, *, start_embedded: bool = True) -> tuple[str, EmbeddedPostgres | None]:
    """The URL to use: ``SNP_DATABASE_URL`` when set, else the embedded server (started if needed)."""
    if settings.database_url:
        return normalize_url(settings.database_url), None
    embedded = embedded_for(settings)
    url = embedded.start() if start_embedded else embedded.url()
    return url, embedded


def normalize_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs (as libpq tools print them) and use asyncpg.

    A libpq multi-host URL (``postgresql://user@h1:5432,h2:5432/snp?target_session_attrs=read-write``,
    a primary and its standby) becomes the form SQLAlchemy passes to asyncpg (``?host=h1:5432&host=…``):
    asyncpg tries the hosts in turn and keeps the one that accepts writes, so after a promotion the
    app's next connections reach the new primary by themselves."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql+asyncpg://" + url[len(prefix):]
            break
    scheme, sep, rest = url.partition("://")
    authority, _, tail = rest.partition("/")
    userinfo, at, hosts = authority.rpartition("@")
    if not sep or "," not in hosts:
        return url
    database, question, query = tail.partition("?")
    params = "&".join(f"host={host}" for host in hosts.split(","))
    return f"{scheme}://{userinfo}{at}/{database}?{params}" + (f"&{query}" if question and query else "")


def asyncpg_dsn(url: str) -> str:
    """The URL for asyncpg itself (COPY, benchmarks): the SQLAlchemy driver prefix taken off."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


def report_pool_size(settings: Settings) -> int:
    """The monthly reports' own pool, per worker: a report computed holds three connections at most (its unit of
    work and its two parallel reads, ``Parallel``), and two more let the reports waiting their turn look for a kept
    copy meanwhile."""
    return 3 * settings.stats_concurrency + 2


def make_engine(url: str, settings: Settings, *, searches: bool = False, reports: bool = False) -> AsyncEngine:
    """The pool of the app's connections; ``searches``: the search's own pool (``snp-search``), whose
    connections plan every statement for its values (``plan_cache_mode``), so that a search runs as one
    statement outside any transaction — one round trip instead of BEGIN, SET LOCAL, the search, COMMIT;
    ``reports``: the monthly reports' own pool (``snp-report``, ``report_pool_size``), so that a report, however
    long it waits on the database, never holds a connection an operator's request needs."""
    size = (settings.db_search_pool_size if searches else report_pool_size(settings) if reports
            else settings.db_pool_size)
    engine = create_async_engine(
        url,
        pool_size=size,
        max_overflow=0 if searches or reports else settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        # No pre-ping: a round trip per request; a connection broken by a server restart is
        # discarded by SQLAlchemy on its first error instead.
        # Only the start-up parameters a pooler passes on (PgBouncer forwards these, and refuses others).
        connect_args={"server_settings": {
            "timezone": "UTC", "application_name": "snp-search" if searches else "snp-report" if reports else "snp"}},
    )
    # The time limits are set once per new connection instead, so that they hold behind PgBouncer too.
    limits = (f"SET statement_timeout = {int(settings.db_statement_timeout_ms)}; "
              f"SET idle_in_transaction_session_timeout = {int(settings.db_idle_in_transaction_timeout_ms)}")
    if searches:
        limits += "; SET plan_cache_mode = force_custom_plan"

    @event.listens_for(engine.sync_engine, "connect")
    def _limits(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.run_async(lambda connection: connection.execute(limits))

    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


class Statements(Protocol):
    """Runs one statement at a time, each committed by itself (``OneStatement``, ``OnDemand``)."""

    async def fetch_row(self, statement: str, params: dict[str, Any]) -> Any: ...

    async def rows(self, statement: Executable) -> Sequence[RowMapping]: ...


class OneStatement:
    """Runs statements one at a time straight on a pooled connection, outside any transaction: each
    commits by itself, in one round trip (the booking's write path)."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def fetch_row(self, statement: str, params: dict[str, Any]) -> Any:
        return await fetch_row(self.connection, statement, params)

    async def rows(self, statement: Executable) -> Sequence[RowMapping]:
        return (await self.connection.execute(statement)).mappings().all()


class OnDemand:
    """Runs each statement on a pooled connection taken for that statement alone and given back at once
    (autocommit): a request never holds one while it waits for another (a burst of requests that each
    held one and waited for a session's once took every connection of the pool)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def fetch_row(self, statement: str, params: dict[str, Any]) -> Any:
        async with self.engine.connect() as connection:
            return await fetch_row(connection, statement, params)

    async def rows(self, statement: Executable) -> Sequence[RowMapping]:
        """Every row of a Core statement, run on its own outside any transaction (no BEGIN, no COMMIT: one
        round trip): for a read that needs nothing else of the request's transaction."""
        async with self.engine.connect() as connection:
            alone = await connection.execution_options(isolation_level="AUTOCOMMIT")
            return (await alone.execute(statement)).mappings().all()


A = TypeVar("A")
B = TypeVar("B")


class Parallel:
    """Independent reads run at once, each in a session of its own, so that PostgreSQL works on them
    together (the statistics read their call and slot figures so)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def _read(self, read: Callable[[AsyncSession], Awaitable[A]]) -> A:
        async with self.sessionmaker() as session, session.begin():
            return await read(session)

    async def both(
        self, first: Callable[[AsyncSession], Awaitable[A]], second: Callable[[AsyncSession], Awaitable[B]]
    ) -> tuple[A, B]:
        """Both reads' results; when one fails, the other is cancelled (its statement with it) and waited for
        before the error goes on: left running, it held its connection and kept PostgreSQL busy for a report
        that had already failed and given its turn to the next."""
        one, two = asyncio.ensure_future(self._read(first)), asyncio.ensure_future(self._read(second))
        try:
            await asyncio.wait((one, two), return_when=asyncio.FIRST_EXCEPTION)
            for task in (one, two):
                if task.done() and not task.cancelled() and (error := task.exception()) is not None:
                    raise error
            return one.result(), two.result()
        except BaseException:
            for task in (one, two):
                task.cancel()
            await asyncio.gather(one, two, return_exceptions=True)
            raise


async def plan_for_the_values(session: AsyncSession) -> None:
    """Plan this transaction's next statements for their actual values.

    asyncpg prepares every statement, and after five runs PostgreSQL may keep a generic plan that
    ignores the values. For the writes (primary-key lookups) that is what we want: planning the
    booking statement anew cost more than running it. For searches and reports whose best plan
    depends on the values (a radius search took 100 ms on a generic plan instead of 0.3 ms), this
    asks for a custom plan every time."""
    await session.execute(sql("SET LOCAL plan_cache_mode = force_custom_plan"))


@lru_cache(maxsize=1024)
def sql(statement: str) -> TextClause:
    """``text()`` parsed once per distinct statement: parsing the bind parameters of a long statement
    costs more on a hot path than running it."""
    return text(statement)


@lru_cache(maxsize=64)
def positional(statement: str) -> tuple[str, tuple[str, ...]]:
    """``statement`` with asyncpg's ``$n`` placeholders, and the parameter names in their order."""
    compiled = sql(statement).compile(dialect=asyncpg_dialect.dialect())
    return compiled.string, tuple(compiled.positiontup or ())


async def fetch_rows(engine: AsyncEngine, statement: str, params: dict[str, Any]) -> list[Any]:
    """Every row of one statement, on a connection of ``engine``'s pool taken for it alone, outside any
    transaction (one round trip); errors as ``fetch_row``'s."""
    async with engine.connect() as connection:
        rows: list[Any] = await _on_driver(connection, "fetch", statement, params)
        return rows


async def fetch_row(connection: AsyncConnection, statement: str, params: dict[str, Any]) -> Any:
    """Run one statement straight on the connection's asyncpg driver (a hot path: none of the ORM's or
    Core's per-execution machinery); its first row or None. Outside a transaction, the statement
    commits by itself. Errors come back as SQLAlchemy's, so the usual handling applies."""
    return await _on_driver(connection, "fetchrow", statement, params)


async def _on_driver(connection: AsyncConnection, method: str, statement: str, params: dict[str, Any]) -> Any:
    """``statement`` by the connection's asyncpg driver's ``method`` (``fetch``, ``fetchrow``), its errors as
    SQLAlchemy's."""
    text_, names = positional(statement)
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None, "a pooled connection always has its driver connection"
    try:
        return await getattr(driver, method)(text_, *(params[name] for name in names))
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityError(text_, None, exc) from exc
    except asyncpg.PostgresError as exc:
        if not connection_lost(getattr(exc, "sqlstate", None)):
            raise DBAPIError(text_, None, exc) from exc
        await connection.invalidate()
        raise DBAPIError(text_, None, exc, connection_invalidated=True) from exc
    except Exception as exc:
        # Anything else (the server gone, the protocol left mid-operation): this connection cannot be
        # trusted again. Drop it from the pool; the request answers 503.
        await connection.invalidate()
        raise DBAPIError(text_, None, exc, connection_invalidated=True) from exc



@asynccontextmanager
async def command_session(url: str | None = None) -> AsyncIterator[AsyncSession]:
    """A transaction for a command of ``snp`` on the database at ``url`` (the configured one when None,
    the embedded server started if needed and stopped again if this started it)."""
    from app.platform.config import get_settings

    settings = get_settings()
    embedded = None
    if url is None:
        url, embedded = await asyncio.to_thread(resolve_database_url, settings)
    assert url is not None
    engine = make_engine(normalize_url(url), settings)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            yield session
    finally:
        await engine.dispose()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop_if_started_here)
