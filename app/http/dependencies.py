"""The FastAPI dependencies every router injects: the settings, the request's session (one request = one
transaction, committed before the response is sent), the one-statement connection of the booking path,
and the reads that may go to a replica.

Every dependency is ``async def``, even one that awaits nothing: FastAPI runs a plain ``def`` in its
thread pool, a hand-off per request that cost the booking path a third of one worker's throughput
(``tests/http/test_dependencies.py`` holds it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.platform.config import Settings
from app.platform.database import OnDemand, OneStatement
from app.platform.replica import Reads


async def settings_of(request: Request) -> Settings:
    """The settings the running app was created with (tests create apps with their own)."""
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(settings_of)]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's session, committed when the endpoint returns, before the answer is sent. A route that also
    runs a statement on a connection of its own (``StatementsDep``) commits first what it read, so as never to
    hold two connections (the queue): nothing may be written before that."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_statements(request: Request) -> OneStatement | OnDemand:
    """Each statement on a connection of its own, taken when it runs (tests give a connection instead)."""
    return OnDemand(request.app.state.engine)


StatementsDep = Annotated[OneStatement | OnDemand, Depends(get_statements)]


async def get_reads(request: Request) -> Reads:
    state = request.app.state
    return Reads(state.sessionmaker, getattr(state, "replica_sessionmaker", None), getattr(state, "replica", None),
                 searches=getattr(state, "search_engine", None))


ReadsDep = Annotated[Reads, Depends(get_reads)]


async def get_report_reads(request: Request) -> Reads:
    """``get_reads`` for the monthly reports: through the reports' own pools, on the replica or the primary
    (app/main.py)."""
    state = request.app.state
    return Reads(state.report_sessionmaker, getattr(state, "replica_report_sessionmaker", None),
                 getattr(state, "replica", None))


ReportReadsDep = Annotated[Reads, Depends(get_report_reads)]
