"""Reads from a streaming replica, within a lag the SAS accepts; the primary otherwise.

Search and statistics are read-only and make most of the traffic: with ``SNP_DATABASE_REPLICA_URL`` they
run on a hot standby of the primary (PostgreSQL's streaming replication), so that the primary keeps its
time for the writes. Writes never go there.

How far behind the replica is, is measured without any privilege: every ``SNP_REPLICA_CHECK_SECONDS``
each instance reads the primary's WAL position, then the replica's replayed position; a position of
the primary not yet replayed by the replica is pending since the check that saw it, and the lag is the
age of the oldest pending one (exact to one check interval). Reads go to the primary when that lag
passes ``SNP_REPLICA_MAX_LAG_SECONDS``, when the replica cannot be reached or is no longer a standby
(it was promoted: the primary URL reaches it then), and when a read on it fails for one of those
reasons — immediately, within the same request. A promoted replica's pooled connections are dropped: a
replica URL that names every node of a Patroni cluster with ``target_session_attrs=prefer-standby``
reaches one of the standbys left at the next check. While the primary cannot be reached, the replica is
as fresh as anything there is: it keeps answering the searches.

A write is seen on the replica a few milliseconds later; within the allowed lag, a slot booked a moment
ago may still be listed as free. Booking it then answers 409, as for any slot taken meanwhile: the
guarantee of one patient per slot is the primary's, never the replica's.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from prometheus_client import Counter, Gauge
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.platform.database import Parallel, fetch_rows, sql
from app.platform.errors import connection_lost, sqlstate_of
from app.platform.logging import log
from app.platform.periodic import every

A = TypeVar("A")

READS = Counter("snp_reads_total", "Read-only requests (search, statistics) by where they were read",
                ["target"])
LAG = Gauge("snp_replica_lag_seconds", "How far the replica is behind the primary, as this instance last measured "
            "(-1: unreachable or not a standby)")

PRIMARY_POSITION = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint"
REPLICA_POSITION = ("SELECT pg_is_in_recovery(), "
                    "(coalesce(pg_last_wal_replay_lsn(), '0/0'::pg_lsn) - '0/0'::pg_lsn)::bigint")
# A standby cancels a query that conflicts with the WAL it replays (40001): the primary answers it.
REPLICA_CONFLICT = "40001"


@dataclass
class ReplicaState:
    usable: bool = False
    lag_seconds: float | None = None
    reason: str = "not checked yet"


class ReplicaMonitor:
    """Measures the replica's lag (see the module's text) and says whether reads may go there."""

    def __init__(self, primary: AsyncEngine, replica: AsyncEngine, max_lag_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.primary = primary
        self.replica = replica
        self.max_lag_seconds = max_lag_seconds
        self.clock = clock
        self.pending: deque[tuple[float, int]] = deque()  # (seen at, primary position) not yet replayed
        self.state = ReplicaState()

    @property
    def usable(self) -> bool:
        return self.state.usable

    def _set(self, usable: bool, lag: float | None, reason: str) -> None:
        if usable != self.state.usable:
            log.info("replica.usable" if usable else "replica.not_used", reason=reason,
                     lag_seconds=None if lag is None else round(lag, 3))
        self.state = ReplicaState(usable=usable, lag_seconds=lag, reason=reason)
        LAG.set(-1 if lag is None else lag)

    def gone(self, reason: str) -> None:
        """A read on the replica failed for want of it: none go there until the next check finds it well."""
        self.pending.clear()
        self._set(False, None, reason)

    async def check(self) -> ReplicaState:
        now = self.clock()
        primary_at: int | None = None
        try:
            async with self.primary.connect() as conn:
                primary_at = int((await conn.execute(sql(PRIMARY_POSITION))).scalar_one())
        except Exception:  # noqa: BLE001 - no primary: the replica is the freshest copy there is
            primary_at = None
        try:
            async with self.replica.connect() as conn:
                in_recovery, replayed = (await conn.execute(sql(REPLICA_POSITION))).one()
        except Exception as exc:  # noqa: BLE001 - unreachable: reads go to the primary
            self.gone(f"unreachable ({type(exc).__name__})")
            return self.state
        if not in_recovery:
            self.gone("not a standby (promoted?)")
            # Its pooled connections stay on the promoted server: new ones are made, so that a replica URL
            # naming several hosts (target_session_attrs=prefer-standby) reaches a standby again.
            await self.replica.dispose()
            return self.state
        if primary_at is None:
            # No primary to be behind: what the replica has is the freshest there is (positions seen
            # before it went may never reach the replica — a crash loses what was not sent).
            self.pending.clear()
        elif primary_at > replayed:
            self.pending.append((now, primary_at))
        while self.pending and self.pending[0][1] <= replayed:
            self.pending.popleft()
        lag = now - self.pending[0][0] if self.pending else 0.0
        within = lag <= self.max_lag_seconds
        self._set(within, lag, "within the allowed lag" if within else "behind the allowed lag")
        return self.state


def _replica_failure(exc: DBAPIError) -> bool:
    state = sqlstate_of(exc)
    return exc.connection_invalidated or connection_lost(state) or state == REPLICA_CONFLICT or state is None


class Reads:
    """Runs a read-only unit of work where it should run: on the replica when the monitor allows it and
    the replica answers, else on the primary."""

    def __init__(self, primary: async_sessionmaker[AsyncSession], replica: async_sessionmaker[AsyncSession] | None,
                 monitor: ReplicaMonitor | None,
                 parallel: Callable[[async_sessionmaker[AsyncSession]], Parallel] = Parallel,
                 searches: AsyncEngine | None = None) -> None:
        self.primary = primary
        self.replica = replica
        self.monitor = monitor
        self.parallel = parallel
        self.searches = searches

    @property
    def on_primary(self) -> Callable[[str, dict[str, Any]], Awaitable[list[Any]]] | None:
        """Where a search's statement runs when reads go to the primary: the search's own pool, one statement
        outside any transaction (``fetch_rows``); None when a usable replica takes the reads (or no such pool)."""
        if self.searches is None or (self.replica is not None and self.monitor is not None and self.monitor.usable):
            return None
        engine = self.searches

        async def rows(statement: str, params: dict[str, Any]) -> list[Any]:
            return await fetch_rows(engine, statement, params)  # counted by ``run``, around it

        return rows

    async def _on(self, sessionmaker: async_sessionmaker[AsyncSession],
                  read: Callable[[AsyncSession, Parallel], Awaitable[A]]) -> A:
        async with sessionmaker() as session, session.begin():
            return await read(session, self.parallel(sessionmaker))

    async def run(self, read: Callable[[AsyncSession, Parallel], Awaitable[A]],
                  not_there_yet: type[Exception] | tuple[type[Exception], ...] = ()) -> A:
        """``read(session, parallel)`` on the replica or the primary. ``not_there_yet``: errors that may
        only mean the replica has not replayed a recent write yet (a call created a moment ago): the
        primary is asked then."""
        if self.replica is not None and self.monitor is not None and self.monitor.usable:
            try:
                result = await self._on(self.replica, read)
            except not_there_yet:
                pass
            except DBAPIError as exc:
                if not _replica_failure(exc):
                    raise
                self.monitor.gone(f"a read failed ({sqlstate_of(exc) or type(exc.orig).__name__})")
            except OSError as exc:
                self.monitor.gone(f"a read failed ({type(exc).__name__})")
            else:
                READS.labels("replica").inc()
                return result
        READS.labels("primary").inc()
        return await self._on(self.primary, read)


def start_monitoring(monitor: ReplicaMonitor, interval_seconds: float) -> Callable[[], Awaitable[None]]:
    return every(interval_seconds, monitor.check, "replica.check")
