"""No one can stall everyone: each input that once froze the service, or held its pool, replayed against one
served app; during each, ``/health`` answers within a second (two during a burst of three hundred consoles), asked
from a thread of its own, and the memory of the server and of its job processes together grows by less than 200 MB.

The served app runs with a job memory limit of 64 MB so that the calendar over it is answered in a few
seconds (its time limit stays at the default).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.auth.tokens import create_token
from app.platform.config import Settings
from tests.support.database import TEST_SECRET
from tests.support.factories import create_practitioner, create_site
from tests.support.serving import served

HEALTH_SECONDS = 1.0
# Three hundred consoles opening at once keep the one worker busy for a moment: /health waited 0.05 to 0.66 s on a
# quiet machine, and up to 1.2 s when both groups of the suite share its two cores. A stall (the streams holding
# the pool, every request waiting for its timeout) is ten seconds: two is the burst's bound.
BURST_HEALTH_SECONDS = 2.0
MEMORY_MB = 200
STREAMS = 300


def _headers(role: str, territory: str = "36", **kw: Any) -> dict[str, str]:
    token = create_token(Settings(jwt_secret=TEST_SECRET), role=role, territories=[territory], **kw)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def base(database_url: str) -> Iterator[str]:
    with served(database_url, {"SNP_JOB_MEMORY_MB": "64"}) as url:
        yield url


# --- measures ---------------------------------------------------------------------------------------


def _server_pid(base: str) -> int:
    """The uvicorn process serving ``base`` (one worker: it runs the app itself)."""
    port = base.rsplit(":", 1)[1]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"app.main:app" in argv and b"--port" in argv and argv[argv.index(b"--port") + 1] == port.encode():
            return int(entry.name)
    raise AssertionError(f"no server process for {base}")


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo.extend(int(c) for c in (task / "children").read_text().split())
            except OSError:
                continue
    return found


def _rss_mb(pid: int) -> float:
    """Resident memory of the server and every process under it (its job workers), in MB."""
    total = 0
    for one in _descendants(pid):
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


class Watch:
    """While a probe runs: /health every 0.1 s (its slowest answer) and the memory tree (its peak), from a thread
    of its own: the probe's own requests (three hundred streams) keep the test's event loop busy, and a health
    check waiting on that loop measured the test's loop as much as the server."""

    def __init__(self, base: str, memory_mb: float | None = MEMORY_MB, health_seconds: float = HEALTH_SECONDS) -> None:
        self.base = base
        self.memory_mb = memory_mb
        self.health_seconds = health_seconds
        self.pid = _server_pid(base)
        self.baseline = _rss_mb(self.pid)
        self.peak = self.baseline
        self.slowest = 0.0
        self.failures: list[str] = []
        self.checks = 0
        self.done = threading.Event()

    def run(self) -> None:
        """Until told it is done, and once more then: a probe shorter than a tenth of a second is watched too."""
        with httpx.Client(base_url=self.base, timeout=5) as client:
            while True:
                began = time.monotonic()
                try:
                    response = client.get("/health")
                    if response.status_code != 200:
                        self.failures.append(f"health {response.status_code}")
                except httpx.HTTPError as exc:
                    self.failures.append(f"health {type(exc).__name__}")
                self.slowest = max(self.slowest, time.monotonic() - began)
                self.peak = max(self.peak, _rss_mb(self.pid))
                self.checks += 1
                if self.done.is_set():
                    return
                self.done.wait(0.1)

    def check(self, name: str) -> None:
        assert self.checks >= 1, (name, self.checks)  # the last one as it ended, others while it ran
        assert not self.failures, (name, self.failures)
        assert self.slowest < self.health_seconds, f"{name}: /health took {self.slowest:.2f} s"
        grown = self.peak - self.baseline
        assert self.memory_mb is None or grown < self.memory_mb, f"{name}: the server and its workers grew by " \
            f"{grown:.0f} MB"


@asynccontextmanager
async def watched(base: str, name: str, memory_mb: float | None = MEMORY_MB,
                  health_seconds: float = HEALTH_SECONDS) -> AsyncIterator[Watch]:
    watch = Watch(base, memory_mb, health_seconds)
    thread = threading.Thread(target=watch.run, daemon=True)
    thread.start()
    try:
        yield watch
    finally:
        watch.done.set()
        await asyncio.to_thread(thread.join, 10)
    watch.check(name)


# --- calendars ----------------------------------------------------------------------------------------


def _calendar(*events: str) -> bytes:
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//x//FR\r\n" + "".join(events) + "END:VCALENDAR\r\n").encode()


def _event(uid: str, start: dt.datetime, seconds: int, rule: str = "", summary: str = "SNP") -> str:
    end = start + dt.timedelta(seconds=seconds)
    return (f"BEGIN:VEVENT\r\nUID:{uid}\r\nSUMMARY:{summary}\r\nDTSTART:{start:%Y%m%dT%H%M%SZ}\r\n"
            f"DTEND:{end:%Y%m%dT%H%M%SZ}\r\n{rule}END:VEVENT\r\n")


async def _doctor(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    admin = _headers("admin")
    practitioner = await create_practitioner(client, admin, ["36"])
    site = await create_site(client, admin, "36")
    return site["id"], _headers("effector", practitioner_id=practitioner["id"])


class TestCalendars:
    async def test_no_calendar_stalls_the_service_and_each_is_answered_in_the_api_s_shape(self, base: str) -> None:
        tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(hour=8, minute=0, second=0,
                                                                           microsecond=0)
        big = _calendar(*(_event(f"agenda-{n}@cabinet", tomorrow, 900, summary="Consultation")
                          for n in range(80_000)))
        assert 9_000_000 < len(big) < 10 * 1024 * 1024  # under the route's body limit
        probes = {
            # a recurrence that never advances: it froze every request and grew to 12.8 GB
            "INTERVAL=0": (_calendar(_event("zero@x", tomorrow, 600, "RRULE:FREQ=DAILY;INTERVAL=0\r\n")),
                           "Unprocessable", "INTERVAL"),
            # ~125 000 occurrences expanded before being refused: every request blocked 8-14 s
            "minutely for ever": (_calendar(_event("minutely@x", tomorrow, 10,
                                                   "RRULE:FREQ=MINUTELY;UNTIL=99991231T000000Z\r\n")),
                                  "CalendarTooLarge", "5000"),
            # 12-hour events cut in 5-minute slots, every day: 144 slots an occurrence
            "pieces": (_calendar(_event("long@x", tomorrow, 12 * 3600, "RRULE:FREQ=DAILY\r\n")),
                       "CalendarTooLarge", "5000"),
            # within every count, but its reading asks for more memory than a job may take
            "10 MB of events": (big, "CalendarTooLarge", "memory"),
        }
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            site_id, doctor = await _doctor(client)
            for name, (body, error, said) in probes.items():
                params = {"site_id": site_id, **({"slot_minutes": 5} if name == "pieces" else {})}
                async with watched(base, name):
                    began = time.monotonic()
                    response = await client.post("/v1/slots/import-ics", content=body, params=params,
                                                 headers={**doctor, "Content-Type": "text/calendar"})
                    took = time.monotonic() - began
                assert response.status_code == 422, (name, response.status_code, response.text[:300])
                answer = response.json()
                assert answer["error"] == error and answer["field"] == "body", (name, answer)
                assert said in answer["detail"], (name, answer)
                if name != "10 MB of events":
                    assert took < 1.0, (name, took)  # decided from the rule, before any expansion
            # the pool is whole again: an ordinary calendar goes through
            response = await client.post(
                "/v1/slots/import-ics", params={"site_id": site_id},
                content=_calendar(_event("weekly@x", tomorrow, 1800, "RRULE:FREQ=WEEKLY;COUNT=3\r\n")),
                headers={**doctor, "Content-Type": "text/calendar"})
            assert response.status_code == 201 and response.json()["created"] == 3, response.text


class TestImports:
    async def test_a_large_calls_import_is_read_off_the_event_loop(self, base: str) -> None:
        header = ("external_id,territory_code,channel,received_at,priority,intent_without_sas,first_callback_at,"
                  "decisions")
        rows = [f"H-{n},36,15,2025-01-06T10:00:00+01:00,P2,urgences,2025-01-06T10:20:00+01:00,advice"
                for n in range(40_000)]
        body = ("\n".join([header, *rows]) + "\n").encode()
        async with httpx.AsyncClient(base_url=base, timeout=120) as client:
            # an ordinary file: its memory is its own limit's business (import_job_memory_mb), not this check's
            async with watched(base, "calls import", memory_mb=None):
                response = await client.post("/v1/calls/import", content=body,
                                             headers={**_headers("admin"), "Content-Type": "text/csv"})
            assert response.status_code == 201, response.text[:300]
            assert response.json()["imported"] == 40_000


# --- the live stream -------------------------------------------------------------------------------


async def _listen(client: httpx.AsyncClient, headers: dict[str, str], events: list[tuple[str, dict]],
                  ready: asyncio.Event, statuses: list[int]) -> None:
    async with client.stream("GET", "/v1/stream", headers=headers) as response:
        statuses.append(response.status_code)
        if response.status_code != 200:
            await response.aread()
            ready.set()
            return
        kind = None
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                events.append((kind or "", json.loads(line.split(":", 1)[1])))
                if kind == "ready":
                    ready.set()
    events.append(("<closed>", {}))


class TestStreams:
    async def test_a_burst_of_consoles_is_served_at_once_and_the_rest_of_the_api_stays_fast(self, base: str) -> None:
        limits = httpx.Limits(max_connections=STREAMS + 20, max_keepalive_connections=STREAMS + 20)
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client, watched(
            base, "burst", health_seconds=BURST_HEALTH_SECONDS
        ):
            headers = [_headers("operator", sub=f"osnp-{n}") for n in range(STREAMS)]
            readies = [asyncio.Event() for _ in range(STREAMS)]
            statuses: list[int] = []
            began = time.monotonic()
            listeners = [asyncio.create_task(_listen(client, h, [], r, statuses))
                         for h, r in zip(headers, readies, strict=True)]
            queue_times: list[float] = []
            regulator = _headers("regulator")
            # Until every stream is ready, and at least ten reads (nine in ten are judged below).
            first_events = None
            while (first_events is None or len(queue_times) < 10) and time.monotonic() - began < 10:
                sent = time.monotonic()
                response = await client.get("/v1/calls", params={"territory": "36"}, headers=regulator)
                queue_times.append(time.monotonic() - sent)
                assert response.status_code == 200, response.text
                if first_events is None and all(r.is_set() for r in readies):
                    first_events = time.monotonic() - began
            try:
                assert all(r.is_set() for r in readies), f"{sum(r.is_set() for r in readies)} of {STREAMS} ready"
                assert statuses == [200] * STREAMS, sorted(set(statuses))
                assert first_events is not None and first_events < 5, first_events
                # A stall makes most reads slow. The first read leaves with the three hundred streams' openings and
                # waits behind them (0.4 s on a quiet machine, 1.1 s when both groups of the suite share its two
                # cores): nine in ten under a second, none near the deadline.
                queue_times.sort()
                p90 = queue_times[math.ceil(len(queue_times) * 0.9) - 1]  # the ninth of ten, not the tenth
                assert p90 < 1.0 and queue_times[-1] < 5.0, (len(queue_times), queue_times[-5:])
            finally:
                for task in listeners:
                    task.cancel()
                await asyncio.gather(*listeners, return_exceptions=True)

    async def test_an_account_s_fourth_stream_ends_its_oldest_whatever_its_tokens(self, base: str) -> None:
        # Four consoles of one regulator, each signed in anew (four tokens): three streams at most.
        tokens = [_headers("regulator", sub="dr-tabs", ttl_seconds=3600 + n) for n in range(4)]
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            streams = [([], asyncio.Event(), []) for _ in range(4)]
            tasks = []
            for headers, (events, ready, statuses) in zip(tokens, streams, strict=True):
                tasks.append(asyncio.create_task(_listen(client, headers, events, ready, statuses)))
                await asyncio.wait_for(ready.wait(), 5)
            try:
                oldest = streams[0][0]
                for _ in range(50):
                    if oldest and oldest[-1][0] == "<closed>":
                        break
                    await asyncio.sleep(0.1)
                assert [kind for kind, _ in oldest] == ["ready", "replaced", "<closed>"], oldest
                for events, _, statuses in streams[1:]:
                    assert statuses == [200] and events[-1][0] == "ready", events
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def test_a_stream_ends_when_its_token_expires_and_carries_nothing_after(self, base: str) -> None:
        events: list[tuple[str, dict]] = []
        ready = asyncio.Event()
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            listener = asyncio.create_task(_listen(client, _headers("regulator", ttl_seconds=2), events, ready, []))
            await asyncio.wait_for(ready.wait(), 5)
            await asyncio.wait_for(listener, 5)
            response = await client.post("/v1/calls", headers=_headers("operator"), json={
                "territory_code": "36", "channel": "15", "patient": {"postcode": "36000", "phone": "0611223344"}})
            assert response.status_code == 201, response.text
        kinds = [kind for kind, _ in events]
        assert kinds == ["ready", "expired", "<closed>"], events
        assert events[1][1]["reason"] == "token_expired"


class TestOnePool:
    async def test_eighty_identical_fhir_updates_at_once_never_hold_the_pool(self, base: str) -> None:
        """Each held a connection for its statements while waiting for its session's: twenty at once took the
        twenty connections (10 s, then 503). Now each takes one at a time."""
        from tests.fhir.helpers import FHIR, _world, declared

        def auth(role: str, territories: list[str] | None = None, **kw: Any) -> dict[str, str]:
            return _headers(role, (territories or ["36"])[0], **kw)

        async with httpx.AsyncClient(base_url=base, timeout=30, limits=httpx.Limits(max_connections=100)) as client:
            w = await _world(client, auth)
            platform = auth("platform")
            body = declared(w["doctor"]["rpps"], w["start"], w["end"], value="eighty-at-once")
            made = await client.post("/fhir/Appointment", json=body, headers={**platform, **FHIR})
            assert made.status_code == 201, made.text
            query = {"identifier": f"{body['identifier'][0]['system']}|eighty-at-once"}
            began = time.monotonic()
            answers = await asyncio.gather(*(
                client.put("/fhir/Appointment", params=query, json={**body, "status": "cancelled"},
                           headers={**platform, **FHIR}) for _ in range(80)))
            took = time.monotonic() - began
        assert [a.status_code for a in answers] == [200] * 80, sorted({a.status_code for a in answers})
        assert took < 5, took


@asynccontextmanager
async def _tight(settings: Settings, pool_size: int, wait: float, **more: Any) -> AsyncIterator[tuple[Any, Any]]:
    """The app (not served: in this process) on an engine of its own with a pool of ``pool_size`` connections,
    ``wait`` seconds to get one (and ``more`` settings); yields the app and the engine."""
    from app.main import create_app, open_pools

    tight = settings.model_copy(update={"db_pool_size": pool_size, "db_max_overflow": 0,
                                        "db_pool_timeout_seconds": wait, **more})
    assert tight.database_url
    application = create_app(tight)
    open_pools(application, tight.database_url, tight)
    try:
        yield application, application.state.engine
    finally:
        for engine in (application.state.engine, application.state.search_engine, application.state.report_engine):
            await engine.dispose()


async def test_a_burst_of_queue_reads_whose_scope_was_forgotten_never_holds_two_connections(
    settings: Settings,
) -> None:
    """The queue's statement takes a connection of its own; the session that read the territory scope (kept, but
    just forgotten: a territory written elsewhere) must have given its connection back by then. Twenty consoles
    at once on a pool of three: each holding one and waiting for another took the whole pool until its timeout."""
    from app.territories.repository import forget_scopes

    async with _tight(settings, pool_size=3, wait=2.0) as (application, _), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application), base_url="http://test"
    ) as client:
        for _ in range(3):
            forget_scopes()  # every read of the burst misses the scope and reads it
            began = time.monotonic()
            answers = await asyncio.gather(*(
                client.get("/v1/calls", params={"territory": "36", "status": "waiting", "limit": 5},
                           headers=_headers("regulator")) for _ in range(20)))
            took = time.monotonic() - began
            assert [a.status_code for a in answers] == [200] * 20, sorted({a.status_code for a in answers})
            assert took < 1.5, took


async def test_a_report_held_up_by_the_database_never_holds_an_operator_s_connection(settings: Settings) -> None:
    """A report reads through a pool of its own. Held up at its notices' figures (the table locked by another
    session: a long report, a vacuum), it keeps its connections; the operators' pool of two serves twenty queue
    reads and a call's entry meanwhile (the report's two connections were the operators' whole pool: each request
    waited its timeout, then 503), and the report is answered once the table is free."""
    from sqlalchemy.ext.asyncio import create_async_engine

    assert settings.database_url
    outside = create_async_engine(settings.database_url)
    month = dt.datetime.now(dt.UTC).strftime("%Y-%m")
    regulator = _headers("regulator")
    try:
        async with _tight(settings, pool_size=2, wait=2.0) as (application, _), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://test", timeout=30
        ) as client, outside.connect() as locker, outside.connect() as watcher:
            await locker.exec_driver_sql("BEGIN")
            await locker.exec_driver_sql("LOCK TABLE notices IN ACCESS EXCLUSIVE MODE")
            report = asyncio.create_task(client.get(
                "/v1/stats/monthly", params={"territory": "36", "from": month, "to": month},
                headers=_headers("analyst")))
            await watcher.execution_options(isolation_level="AUTOCOMMIT")
            while not (await watcher.exec_driver_sql(
                    "SELECT count(*) FROM pg_locks WHERE relation = CAST('notices' AS regclass) AND NOT granted"
            )).scalar_one():
                assert not report.done(), report.result().text
                await asyncio.sleep(0.05)
            began = time.monotonic()
            answers = await asyncio.gather(*(
                client.get("/v1/calls", params={"territory": "36", "limit": 5}, headers=regulator)
                for _ in range(20)))
            made = await client.post("/v1/calls", json={"territory_code": "36", "channel": "15", "reason": "fièvre",
                                                        "patient": {"phone": "0254000000"}}, headers=regulator)
            took = time.monotonic() - began
            assert not report.done()
            await locker.exec_driver_sql("ROLLBACK")
            answered = await report
        assert [a.status_code for a in answers] == [200] * 20, sorted({a.status_code for a in answers})
        assert made.status_code == 201, made.text
        assert took < 1.5, took
        assert answered.status_code == 200, answered.text
    finally:
        await outside.dispose()


async def test_a_report_waits_for_its_pool_no_longer_than_its_own_wait(settings: Settings) -> None:
    """Every connection of the reports' pool taken (reports held up by the database): the next report is told to
    come back after its SNP_STATS_WAIT_SECONDS (half a second here), not after the pool's timeout (five), and an
    operator is served meanwhile."""
    from app.platform.database import report_pool_size

    async with _tight(settings, pool_size=2, wait=5.0, stats_wait_seconds=0.5) as (application, _), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application), base_url="http://test", timeout=30
    ) as client:
        reports = application.state.report_engine
        held = [await reports.connect() for _ in range(report_pool_size(application.state.settings))]
        try:
            month = dt.datetime.now(dt.UTC).strftime("%Y-%m")
            began = time.monotonic()
            waited = await client.get("/v1/stats/monthly", params={"territory": "36", "from": month, "to": month},
                                      headers=_headers("analyst"))
            took = time.monotonic() - began
            queue = await client.get("/v1/calls", params={"territory": "36", "limit": 5}, headers=_headers("regulator"))
        finally:
            for connection in held:
                await connection.close()
    assert waited.status_code == 503 and waited.headers["retry-after"], waited.text
    assert "retry" in waited.json()["detail"]
    assert took < 2.0, took
    assert queue.status_code == 200, queue.text


async def test_a_busy_pool_answers_json_503_with_retry_after(settings: Settings) -> None:
    """Every pooled connection held: the next request waits db_pool_timeout_seconds, then is told so in the
    API's shape (it used to be a plain-text 500 after 30 s)."""
    async with _tight(settings, pool_size=1, wait=0.3) as (application, engine), engine.connect() as held:
        await held.exec_driver_sql("SELECT 1")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://test") as client:
            began = time.monotonic()
            response = await client.get("/v1/calls", params={"territory": "36"}, headers=_headers("regulator"))
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] and response.json()["error"] == "Unavailable"
    assert time.monotonic() - began < 5


async def test_the_job_pool_kills_a_job_over_its_limits_and_serves_the_next() -> None:
    from app.platform.jobs import JobOverLimit, Jobs
    from tests.support.jobs_probe import allocate, spin

    pool = Jobs(workers=1, seconds=1.0, memory_mb=64, wait_seconds=2.0)
    began = time.monotonic()
    try:
        assert await pool.run(spin, 0.0) == 0.0
        with pytest.raises(JobOverLimit) as over_time:
            await pool.run(spin, 30.0)
        assert over_time.value.limit == "time"
        with pytest.raises(JobOverLimit) as over_memory:
            await pool.run(allocate, 512)
        assert over_memory.value.limit == "memory"
        assert await pool.run(allocate, 8) == 8  # a worker is there again, within its limits
    finally:
        pool.stop()
    assert time.monotonic() - began < 10


async def test_one_party_has_one_job_at_a_time_and_never_every_worker() -> None:
    from app.platform.jobs import Jobs, PoolBusy
    from tests.support.jobs_probe import spin

    pool = Jobs(workers=2, seconds=5.0, memory_mb=64, wait_seconds=0.5)
    try:
        await pool.run(spin, 0.0)
        first = asyncio.create_task(pool.run(spin, 1.5, owner="dr-a"))
        await asyncio.sleep(0.2)
        with pytest.raises(PoolBusy):  # the same party's second job waits for its first, then gives up
            await pool.run(spin, 0.1, owner="dr-a")
        assert await pool.run(spin, 0.1, owner="dr-b") == 0.1  # the other worker is someone else's to use
        assert await first == 1.5
    finally:
        pool.stop()


async def test_a_stream_ends_once_its_account_may_no_longer_listen(engine) -> None:
    """A disabled account (or a withdrawn role) ends its streams at the next check, told ``expired``."""
    from app.calls.live import Hub

    hub = Hub(engine, max_subscribers=10, max_per_owner=3)
    subscriber = await hub.subscribe(frozenset({"36"}), owner="a-token")
    allowed = True

    async def still_allowed() -> bool:
        return allowed

    told: list[dict] = []

    async def read() -> None:
        async for _, event in hub.events(subscriber, still_allowed=still_allowed, recheck_seconds=0.1):
            told.append(event)

    try:
        reading = asyncio.create_task(read())
        await asyncio.sleep(0.35)
        assert not reading.done()
        allowed = False
        await asyncio.wait_for(reading, 2)
        assert told == [{"event": "expired", "reason": "access_withdrawn"}]
        assert subscriber not in hub.subscribers
    finally:
        await hub.close()
