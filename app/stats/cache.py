"""The reports of closed months, kept by each process; and how many reports a process computes at once.

**Kept, exactly.** A report whose months have all ended (in the time zones of its territories, by
PostgreSQL's clock) is kept by the process that computed it, under its subject (the territories, their
time zones and callback targets, the estimate's method and coefficients, the area) and its months, with a
*token*: the highest change number PostgreSQL appended for those territories and months
(``stats_changes``, migration 0039: every late write to a call, a slot or a booking appends one, and so
do a late decision, a revoked orientation, an outcome posted, an import of past calls, a site moved) and
the start time of the server that answered. A later read asks for the token again (one index-only
statement) and gives the kept report only when it is unchanged; otherwise it computes the report again.
The token is read in the same unit of work as the report's own statements, before them, so a report is
never kept under a token newer than what it counted. A restore or a failover answers with another start
time, so nothing kept before it is given after it.

**At once.** A process computes at most ``SNP_STATS_CONCURRENCY`` reports at a time (1 by default: a
report's statements already run in parallel); the next waits its turn, holding no database connection,
for at most ``SNP_STATS_WAIT_SECONDS``, then is answered 503 with ``Retry-After``. An operator's request
never waits behind a report: the reports only ever take their own turns.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Gauge
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.platform.errors import Unavailable
from app.stats.schemas import MonthlyReport

KEPT = Counter("snp_stats_reports_total", "Monthly reports asked of this process, by whether a kept one was given",
               ["source"])
TURNS = Gauge("snp_stats_reports_in_progress", "Monthly reports this process computes now, or that wait their turn",
              ["state"])

# The highest change of the report's territories (and of every report: '') in its months, the answering
# server's start, and whether every month has ended in every time zone of the report.
TOKEN_SQL = """
SELECT coalesce((SELECT max(changed) FROM stats_changes
                 WHERE (territory_code = ANY(CAST(:codes AS text[])) AND month = ANY(CAST(:months AS date[])))
                    OR territory_code = ''), 0) AS changed,
       pg_postmaster_start_time() AS started,
       now() >= (SELECT max(CAST(:after AS timestamp) AT TIME ZONE z) FROM unnest(CAST(:zones AS text[])) AS z)
           AS closed
"""


@dataclass(frozen=True)
class Token:
    changed: int
    started: dt.datetime
    closed: bool


async def token_of(session: AsyncSession, codes: Sequence[str], zones: Sequence[str], months: Sequence[dt.date],
                   after: dt.date) -> Token:
    row = (await session.execute(text(TOKEN_SQL), {
        "codes": list(codes), "zones": sorted(set(zones)), "months": list(months),
        "after": dt.datetime.combine(after, dt.time())})).one()
    return Token(int(row.changed), row.started, bool(row.closed))


class Kept:
    """A bounded map of reports (least recently given first out), each under the token it was computed at."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.reports: OrderedDict[Any, tuple[Token, MonthlyReport]] = OrderedDict()

    def get(self, key: Any, token: Token) -> MonthlyReport | None:
        kept = self.reports.get(key)
        if kept is None or kept[0] != token or not token.closed:
            return None
        self.reports.move_to_end(key)
        return kept[1]

    def put(self, key: Any, token: Token, report: MonthlyReport) -> None:
        if not token.closed or self.size <= 0:
            return
        self.reports[key] = (token, report)
        self.reports.move_to_end(key)
        while len(self.reports) > self.size:
            self.reports.popitem(last=False)

    def clear(self) -> None:
        self.reports.clear()


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


class Turn:
    """``async with Turn(concurrency, wait_seconds):`` — this process's turn to compute a report."""

    def __init__(self, concurrency: int, wait_seconds: float) -> None:
        loop = asyncio.get_running_loop()
        made = _turns.get(loop)
        if made is None or made[0] != concurrency:
            made = _turns[loop] = (concurrency, asyncio.Semaphore(concurrency))
        self.semaphore = made[1]
        self.wait_seconds = wait_seconds

    async def __aenter__(self) -> None:
        TURNS.labels("waiting").inc()
        try:
            async with asyncio.timeout(self.wait_seconds):
                await self.semaphore.acquire()
        except TimeoutError as exc:
            raise Unavailable("Other reports are being computed: retry in a few seconds") from exc
        finally:
            TURNS.labels("waiting").dec()
        TURNS.labels("running").inc()

    async def __aexit__(self, *exc: object) -> None:
        TURNS.labels("running").dec()
        self.semaphore.release()
