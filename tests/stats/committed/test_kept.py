"""The reports of closed months are kept by each process, and never given once a write changed what they count;
reports are computed in turns shared by every process, and a report past its wait is answered 503
(app/stats/cache.py)."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.http.dependencies import get_report_reads
from app.main import create_app
from app.platform.replica import Reads
from app.stats import cache, repository
from tests.conftest import InTurn
from tests.stats.helpers import insert_call, insert_slot, monthly, this_month

KEPT = re.compile(r'^snp_stats_reports_total\{source="(kept|computed)"\} ([0-9.e+]+)$', re.M)


async def counts(client: Any) -> dict[str, float]:
    found = {source: float(value) for source, value in KEPT.findall((await client.get("/metrics")).text)}
    return {"kept": found.get("kept", 0.0), "computed": found.get("computed", 0.0)}


async def march(client: Any, auth: Any, territory: str = "36") -> dict[str, Any]:
    return (await monthly(client, auth("admin"), territory, "2022-03", "2022-03"))["total"]


async def test_a_closed_month_is_computed_once_then_given_as_kept(client, connection, auth):
    await insert_call(connection, "2022-03-10T10:00:00+01:00", ["advice"])
    before = await counts(client)
    first = await march(client, auth)
    second = await march(client, auth)
    after = await counts(client)
    assert first == second and first["calls"] == 1
    assert after["computed"] - before["computed"] == 1 and after["kept"] - before["kept"] == 1
    # Another territory's write leaves it kept; the CSV is drawn from the kept report too.
    await insert_call(connection, "2022-03-10T10:00:00+01:00", ["advice"], territory="18")
    csv = await client.get("/v1/stats/monthly", params={"territory": "36", "from": "2022-03", "to": "2022-03",
                                                        "format": "csv"}, headers=auth("admin"))
    assert csv.status_code == 200
    assert (await counts(client))["kept"] - after["kept"] == 1


async def test_a_late_decision_and_its_revocation_are_counted_at_once(client, connection, auth):
    call = await insert_call(connection, "2022-03-10T10:00:00+01:00")
    assert (await march(client, auth))["decisions"]["advice"]["count"] == 0
    await connection.execute(text("INSERT INTO decisions (id, call_id, kind, decided_at) "
                                  "VALUES (:id, :c, 'advice', now())"), {"id": (decision := uuid.uuid4()), "c": call})
    assert (await march(client, auth))["decisions"]["advice"]["count"] == 1
    await connection.execute(text("UPDATE decisions SET revoked_at = now(), revoked_by = 'dr', "
                                  "revoked_reason = 'erreur' WHERE id = :id"), {"id": decision})
    assert (await march(client, auth))["decisions"]["advice"]["count"] == 0


async def test_an_outcome_posted_late_and_a_cancellation_are_counted_at_once(client, connection, auth):
    slot = await insert_slot(connection, "2022-03-15T09:00:00+01:00", booking="active")
    assert (await march(client, auth))["bookings"]["without_outcome"] == 1
    await connection.execute(text("UPDATE bookings SET outcome = 'noshow' WHERE slot_id = :s"), {"s": slot})
    figures = await march(client, auth)
    assert figures["bookings"]["noshow"] == 1 and figures["bookings"]["without_outcome"] == 0
    await connection.execute(text("UPDATE bookings SET status = 'cancelled' WHERE slot_id = :s"), {"s": slot})
    assert (await march(client, auth))["slots"]["booked"] == 0


async def test_past_calls_imported_and_slots_published_late_are_counted(client, connection, auth):
    assert (await march(client, auth))["calls"] == 0
    await connection.execute(text(
        "INSERT INTO calls (id, territory_code, channel, received_at, status, source, external_id) "
        "SELECT gen_random_uuid(), '36', '15', timestamptz '2022-03-05 10:00+01' + g * interval '1 hour', "
        "'closed', 'import', 'imp-' || g FROM generate_series(1, 40) g"))
    assert (await march(client, auth))["calls"] == 40
    await insert_slot(connection, "2022-03-20T09:00:00+01:00")
    assert (await march(client, auth))["slots"]["published"] == 1


async def test_a_call_at_the_edge_of_a_month_invalidates_the_local_month_it_belongs_to(client, connection, auth):
    # 28 February 21:00 UTC is 1 March 01:00 in La Réunion: March there, February in UTC.
    assert (await monthly(client, auth("admin"), "974", "2022-03", "2022-03"))["total"]["calls"] == 0
    await insert_call(connection, "2022-02-28T21:00:00+00:00", territory="974")
    assert (await monthly(client, auth("admin"), "974", "2022-03", "2022-03"))["total"]["calls"] == 1


async def test_a_site_moved_changes_every_kept_report(client, connection, auth):
    slot = await insert_slot(connection, "2022-03-15T09:00:00+01:00")
    await march(client, auth)
    before = await counts(client)
    await connection.execute(text("UPDATE sites SET lat = lat + 0.01 WHERE id = "
                                  "(SELECT site_id FROM slots WHERE id = :s)"), {"s": slot})
    await march(client, auth)
    assert (await counts(client))["computed"] - before["computed"] == 1


async def test_the_month_not_yet_ended_is_never_kept(client, connection, auth):
    month = this_month()
    before = await counts(client)
    first = await monthly(client, auth("admin"), "36", month, month)
    call = await client.post("/v1/calls", json={"territory_code": "36", "channel": "15", "priority": "P2",
                                                "reason": "fièvre", "patient": {"phone": "0254000000"}},
                             headers=auth("operator", ["36"]))
    assert call.status_code == 201, call.text
    second = await monthly(client, auth("admin"), "36", month, month)
    assert second["total"]["calls"] == first["total"]["calls"] + 1
    after = await counts(client)
    assert after["kept"] == before["kept"] and after["computed"] - before["computed"] == 2


def reporting(settings, engine, turns: int, wait: float) -> httpx.AsyncClient:
    """A client of the app with ``turns`` reports at a time and a wait of ``wait`` seconds."""
    application = create_app(settings.model_copy(update={"stats_concurrency": turns, "stats_wait_seconds": wait}))
    application.state.engine = engine
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
    application.state.sessionmaker = sessionmaker
    application.dependency_overrides[get_report_reads] = lambda: Reads(sessionmaker, None, None, parallel=InTurn)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://test")


@pytest.fixture
async def impatient(settings, engine) -> Any:
    """The app with one report at a time and a wait of a fifth of a second."""
    async with reporting(settings, engine, 1, 0.2) as c:
        yield c


async def test_a_report_waits_its_turn_and_past_its_wait_is_told_to_come_back(impatient, auth):
    params = {"territory": "36", "from": this_month(), "to": this_month()}
    async with cache.Turn(1, 1.0):  # another report of this process is being computed
        waited = await impatient.get("/v1/stats/monthly", params=params, headers=auth("admin"))
        # An operator is not in the reports' turns.
        queue = await impatient.get("/v1/calls", params={"territory": "36"}, headers=auth("operator", ["36"]))
    assert waited.status_code == 503 and waited.headers["Retry-After"]
    assert waited.json()["error"] and "retry" in waited.json()["detail"]
    assert queue.status_code == 200
    assert (await impatient.get("/v1/stats/monthly", params=params, headers=auth("admin"))).status_code == 200

    async def release_soon() -> None:
        async with cache.Turn(1, 1.0):
            await asyncio.sleep(0.1)

    holder = asyncio.create_task(release_soon())
    await asyncio.sleep(0.01)
    served = await impatient.get("/v1/stats/monthly", params=params, headers=auth("admin"))  # waits 0.1 s
    await holder
    assert served.status_code == 200


async def test_the_turns_are_shared_by_every_process_of_the_database(impatient, settings, engine, auth):
    """A report's turn is an advisory lock of its transaction: another process's report holding the only turn (here,
    a session outside this process) makes this one wait, and past its wait be told to come back, though nothing
    of this process computes; a turn freed within the wait is taken; an operator never waits for one."""
    params = {"territory": "36", "from": this_month(), "to": this_month()}
    async with engine.connect() as other:
        await other.execute(text("SELECT pg_advisory_xact_lock(:c, 0)"), {"c": cache.TURN_CLASS})
        waited = await impatient.get("/v1/stats/monthly", params=params, headers=auth("admin"))
        queue = await impatient.get("/v1/calls", params={"territory": "36"}, headers=auth("operator", ["36"]))
        assert waited.status_code == 503 and waited.headers["Retry-After"], waited.text
        assert queue.status_code == 200

        async with reporting(settings, engine, 1, 5.0) as patient:
            asking = asyncio.create_task(patient.get("/v1/stats/monthly", params=params, headers=auth("admin")))
            await asyncio.sleep(0.1)
            metrics = (await patient.get("/metrics")).text  # waiting for the other's turn: not running
            await other.rollback()
            served = await asking
            after = (await patient.get("/metrics")).text
        # The turn went with the report's transaction: none is left taken, and nothing counted as going on.
        turns = (await other.execute(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = :c AND objsubid = 2"),
            {"c": cache.TURN_CLASS})).scalar_one()
    assert served.status_code == 200, served.text
    assert 'snp_stats_reports_in_progress{state="waiting"} 1.0' in metrics
    assert 'snp_stats_reports_in_progress{state="running"} 0.0' in metrics
    assert turns == 0
    assert 'snp_stats_reports_in_progress{state="waiting"} 0.0' in after
    assert 'snp_stats_reports_in_progress{state="running"} 0.0' in after


async def test_a_second_turn_lets_a_second_report_through(settings, engine, auth):
    params = {"territory": "36", "from": this_month(), "to": this_month()}
    async with engine.connect() as other, reporting(settings, engine, 2, 0.2) as client:
        await other.execute(text("SELECT pg_advisory_xact_lock(:c, 0)"), {"c": cache.TURN_CLASS})
        served = await client.get("/v1/stats/monthly", params=params, headers=auth("admin"))
        await other.execute(text("SELECT pg_advisory_xact_lock(:c, 1)"), {"c": cache.TURN_CLASS})
        waited = await client.get("/v1/stats/monthly", params=params, headers=auth("admin"))
    assert served.status_code == 200, served.text
    assert waited.status_code == 503, waited.text


async def test_folding_keeps_only_the_latest_change_of_each_territory_and_month(client, connection, engine, auth):
    for hour in range(5):
        await insert_call(connection, f"2022-03-10T1{hour}:00:00+01:00")
    await march(client, auth)
    latest = "SELECT max(changed) FROM stats_changes WHERE territory_code = '36' AND month = DATE '2022-03-01'"
    before = (await connection.execute(text(latest))).scalar_one()
    async with AsyncSession(engine) as session, session.begin():
        # Fresh changes stay (a report kept anywhere may not have seen them); an hour on, the superseded go.
        assert await repository.drop_superseded_changes(session) == 0
        assert await repository.drop_superseded_changes(session, age_seconds=0) >= 4
    rows = "SELECT count(*) FROM stats_changes WHERE territory_code = '36' AND month = DATE '2022-03-01'"
    assert (await connection.execute(text(rows))).scalar_one() == 1
    assert (await connection.execute(text(latest))).scalar_one() == before
    before_counts = await counts(client)
    await march(client, auth)  # still kept: the token is the same
    assert (await counts(client))["kept"] - before_counts["kept"] == 1


async def test_a_change_committed_after_a_later_one_is_never_missed(committed_client, engine, auth):
    """Change numbers follow the order of the writes, not of the commits: A takes N and commits after B took N+1
    and a report was kept; the report is computed again once A commits."""
    headers = auth("admin")
    async with engine.connect() as a, engine.connect() as b:
        first = await a.begin()
        await insert_call(a, "2022-03-10T10:00:00+01:00", ["advice"])
        second = await b.begin()
        await insert_call(b, "2022-03-11T10:00:00+01:00", ["advice"])
        await second.commit()
        assert (await monthly(committed_client, headers, "36", "2022-03", "2022-03"))["total"]["calls"] == 1
        assert (await monthly(committed_client, headers, "36", "2022-03", "2022-03"))["total"]["calls"] == 1
        await first.commit()
    assert (await monthly(committed_client, headers, "36", "2022-03", "2022-03"))["total"]["calls"] == 2
