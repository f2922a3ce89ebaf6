"""The reports of closed months, kept by each process; and how many reports are computed at once.

**Kept, exactly.** A report whose months have all ended (in the time zones of its territories, by
PostgreSQL's clock) is kept by the process that computed it, under its subject (the territories, their
time zones and callback targets, the estimate's method and coefficients, the area) and its months, with the
*snapshot* it was computed under (``pg_current_snapshot()``, read in the report's own unit of work before its
statements) and the start time of the server that answered. Every late write to a call, a slot, a booking, a
message, an MT request appends a change for its territory and months (``stats_changes``, migrations 0039, 0042,
0046–0048), carrying its transaction's id. A later read gives the kept report only while every change of its
territories and months is visible in that snapshot (one statement): a write committed after the snapshot — or
still running then — makes it computed again, whatever order the writers took their change numbers in. A report
is kept at most ``KEEP_SECONDS``; superseded changes are dropped only after twice that, so a change a kept
snapshot did not see is never dropped while the report is kept. A restore or a failover answers with another
start time, so nothing kept before it is given after it.

**At once.** Every process sharing the database together computes at most ``SNP_STATS_CONCURRENCY`` reports
at a time (1 by default: a report's statements already run in parallel): a report's unit of work takes one of
that many turns, a PostgreSQL advisory lock of its transaction (``TURN_SQL``: released when the transaction
ends, whatever ends it, so a turn is never left taken), and waits otherwise, holding no database connection,
trying again a few times a second; a process lets at most that many of its reports try at once. Past
``SNP_STATS_WAIT_SECONDS`` the report is answered 503 with ``Retry-After``. An operator's request never waits
behind a report: the reports only ever take their own turns (and their own pool: app/platform/database.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Gauge
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.http.routes import POLICIES
from app.platform.errors import Unavailable
from app.stats.schemas import MonthlyReport

KEPT = Counter("snp_stats_reports_total", "Monthly reports asked of this process, by whether a kept one was given",
               ["source"])
TURNS = Gauge("snp_stats_reports_in_progress", "Monthly reports this process computes now, or that wait their turn",
              ["state"])

# A report is kept at most this long (and changes are dropped only after twice this: app/stats/repository.py).
KEEP_SECONDS = 1800.0

# The snapshot a report is computed under, the answering server's start, and whether it may be kept: every month
# has ended in every time zone of the report, and the unit of work computing it has written nothing (a report that
# counted writes of its own, not committed yet, is never kept: they may yet be rolled back).
TOKEN_SQL = """
SELECT CAST(pg_current_snapshot() AS text) AS snapshot, pg_postmaster_start_time() AS started,
       now() >= (SELECT max(CAST(:after AS timestamp) AT TIME ZONE z) FROM unnest(CAST(:zones AS text[])) AS z)
           AND pg_current_xact_id_if_assigned() IS NULL AS closed
"""

# Whether a kept report still holds: no change of its territories (or of every report: '') and months that its
# snapshot did not see; and the answering server's start.
STILL_SQL = """
SELECT NOT EXISTS (
           SELECT 1 FROM stats_changes
           WHERE ((territory_code = ANY(CAST(:codes AS text[])) AND month = ANY(CAST(:months AS date[])))
                  OR territory_code = '')
             AND NOT pg_visible_in_snapshot(CAST(CAST(xid AS text) AS xid8),
                                            CAST(CAST(:snapshot AS text) AS pg_snapshot))
       ) AS unchanged,
       pg_postmaster_start_time() AS started
"""


@dataclass(frozen=True)
class Token:
    snapshot: str
    started: dt.datetime
    closed: bool


@dataclass(frozen=True)
class Scope:
    """What a report counts: its territories, their time zones, its months."""

    codes: tuple[str, ...]
    zones: tuple[str, ...]
    months: tuple[dt.date, ...]
    after: dt.date


async def token_of(session: AsyncSession, scope: Scope) -> Token:
    row = (await session.execute(text(TOKEN_SQL), {
        "zones": sorted(set(scope.zones)), "after": dt.datetime.combine(scope.after, dt.time())})).one()
    return Token(str(row.snapshot), row.started, bool(row.closed))


async def still_holds(session: AsyncSession, scope: Scope, token: Token) -> bool:
    row = (await session.execute(text(STILL_SQL), {
        "codes": list(scope.codes), "months": list(scope.months), "snapshot": token.snapshot})).one()
    return bool(row.unchanged) and row.started == token.started


class Kept:
    """A bounded map of reports (least recently given first out), each with the token it was computed under and
    when, for at most ``KEEP_SECONDS``."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.reports: OrderedDict[Any, tuple[Token, float, MonthlyReport]] = OrderedDict()

    async def get(self, session: AsyncSession, key: Any, scope: Scope) -> MonthlyReport | None:
        kept = self.reports.get(key)
        if kept is None:
            return None
        token, at, report = kept
        if time.monotonic() - at > KEEP_SECONDS or not await still_holds(session, scope, token):
            self.reports.pop(key, None)
            return None
        self.reports.move_to_end(key)
        return report

    def put(self, key: Any, token: Token, report: MonthlyReport) -> None:
        if not token.closed or self.size <= 0:
            return
        self.reports[key] = (token, time.monotonic(), report)
        self.reports.move_to_end(key)
        while len(self.reports) > self.size:
            self.reports.popitem(last=False)


_kept: Kept | None = None


def kept(size: int) -> Kept:
    """This process's kept reports (made with this size the first time)."""
    global _kept
    if _kept is None or _kept.size != size:
        _kept = Kept(size)
    return _kept


# One semaphore per event loop (tests run several loops in one process; a server, one).
_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[int, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary())


# The advisory locks of the reports' turns: (TURN_CLASS, 0 … SNP_STATS_CONCURRENCY - 1), in the two-key space (the
# single-key locks of the purges and readers are apart). One statement takes the first free one, if any: the rows
# are drawn one at a time, and LIMIT stops at the first lock taken.
TURN_CLASS = 70070020
# The report's unit of work then waits, idle, while its two parallel reads run: the app's idle-in-transaction limit
# (60 s) would end it, and free its turn, under a report still running; it gets the report route's deadline.
TURN_SQL = text("SELECT n, set_config('idle_in_transaction_session_timeout', :idle, true) "
                "FROM generate_series(0, CAST(:turns AS int) - 1) AS n "
                "WHERE pg_try_advisory_xact_lock(:class, n) LIMIT 1")
IDLE_MS = int(1000 * (POLICIES[("GET", "/v1/stats/monthly")].deadline or 0))  # the report route's deadline
# Between two tries for a turn: a fifth of a second at most (a report takes some 50 ms).
RETRY_SECONDS = (0.02, 0.2)


class NotYourTurn(Exception):
    """Every turn is taken: the unit of work ends (giving its connection back) and tries again later."""


async def take_turn(session: AsyncSession, turns: int) -> None:
    """One of the ``turns`` shared turns for ``session``'s transaction, or :class:`NotYourTurn`."""
    if (await session.execute(TURN_SQL, {"turns": turns, "class": TURN_CLASS, "idle": str(IDLE_MS)})).first() is None:
        raise NotYourTurn


class Turn:
    """``async with Turn(concurrency, wait_seconds) as turn:`` — one of this process's ``concurrency`` tries at a
    shared turn (``take_turn``), ``turn.later()`` between two (Unavailable past ``wait_seconds`` in all)."""

    def __init__(self, concurrency: int, wait_seconds: float, deadline: float | None = None) -> None:
        loop = asyncio.get_running_loop()
        made = _turns.get(loop)
        if made is None or made[0] != concurrency:
            made = _turns[loop] = (concurrency, asyncio.Semaphore(concurrency))
        self.semaphore = made[1]
        self.wait_seconds = wait_seconds
        self.deadline = deadline or 0.0  # on the loop's clock; from the turn's start when not given
        self.pause = RETRY_SECONDS[0]
        self.state = "waiting"

    async def __aenter__(self) -> Turn:
        if not self.deadline:
            self.deadline = asyncio.get_running_loop().time() + self.wait_seconds
        TURNS.labels("waiting").inc()
        try:
            async with self.bounded():
                await self.semaphore.acquire()
        except BaseException:
            TURNS.labels("waiting").dec()
            raise
        return self

    def taken(self) -> None:
        """The shared turn is this report's: it counts as running now (``/metrics``), no longer waiting."""
        self._now("running")

    def lost(self) -> None:
        """The unit of work that held the turn has ended without the report (asked again elsewhere): waiting."""
        self._now("waiting")

    def _now(self, state: str) -> None:
        if self.state != state:
            TURNS.labels(self.state).dec()
            TURNS.labels(state).inc()
            self.state = state

    def bounded(self) -> AbstractAsyncContextManager[None]:
        """What runs in here ends by the report's deadline (a connection of the pool, a statement), or Unavailable."""
        return within(self.deadline)

    async def later(self) -> None:
        """Wait a moment before trying for a shared turn again; Unavailable when the wait would end past the
        report's deadline."""
        loop = asyncio.get_running_loop()
        pause = self.pause * random.uniform(0.5, 1.5)
        if loop.time() + pause > self.deadline:
            raise _busy()
        self.pause = min(self.pause * 2, RETRY_SECONDS[1])
        await asyncio.sleep(pause)

    async def __aexit__(self, *exc: object) -> None:
        TURNS.labels(self.state).dec()
        self.semaphore.release()


@asynccontextmanager
async def within(deadline: float) -> AsyncIterator[None]:
    """What runs in here ends by ``deadline`` (the event loop's clock), or Unavailable (503 with Retry-After)."""
    try:
        async with asyncio.timeout_at(deadline):
            yield
    except TimeoutError as exc:
        raise _busy() from exc


def _busy() -> Unavailable:
    return Unavailable("Other reports are being computed: retry in a few seconds")
