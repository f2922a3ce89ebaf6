"""The national rollup never disagrees with the calls it sums.

Random calls over several territories and time zones, then random writes of every kind a call can
go through (callbacks, decisions added and removed, corrections of time, priority, channel or
territory, deletions, a time zone changed, the rollup folded), and after each the national report
read from the rollup is compared, figure for figure and to the last bit of every median, with the
same report read call by call.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.stats import repository, service
from tests.stats.helpers import insert_call, monthly
from tests.support.factories import create_cpts

TERRITORIES = ("36", "18", "974", "971", "75")
KINDS = ("advice", "slot", "prescription", "other:no_answer", "other:redirected_15", "other:redirected_ed")
BOUNDARIES = ("2022-01-31T22:30:00+00:00", "2022-02-28T23:30:00+00:00", "2022-03-27T00:59:59+00:00",
              "2022-10-30T01:00:00+00:00", "2022-12-31T23:00:00+00:00", "2021-12-31T23:30:00+00:00")


async def both_ways(connection, code: str = "FR") -> tuple[dict, dict]:
    async with AsyncSession(bind=connection, join_transaction_mode="create_savepoint") as session:
        subject = await service.subject_of(session, Principal(sub="t", role="admin"), code)
        assert subject.rolled_up, code
        first, after = dt.date(2022, 1, 1), dt.date(2023, 1, 1)
        rolled = await repository.rollup_call_figures(session, subject.scope, first, after)
        counted = await repository.call_figures(session, subject.scope, first, after)
    return rolled, counted


def random_instant(rng: random.Random) -> dt.datetime:
    if rng.random() < 0.2:
        return dt.datetime.fromisoformat(rng.choice(BOUNDARIES))
    start = dt.datetime(2021, 12, 25, tzinfo=dt.UTC)
    return start + dt.timedelta(seconds=rng.randrange(380 * 86400), microseconds=rng.randrange(10**6))


def random_delay(rng: random.Random) -> float | None:
    return rng.choice([None, 20, 60, 180, 59.999, 60.001, -3.5, rng.uniform(0, 200), rng.uniform(0, 200)])


class Writer:
    def __init__(self, rng: random.Random, connection, territories: list[str]) -> None:
        self.rng, self.connection, self.territories = rng, connection, territories

    async def execute(self, sql: str, **params) -> None:
        await self.connection.execute(text(sql), params)

    async def a_call(self) -> None:
        decisions = self.rng.sample(KINDS, self.rng.randint(0, 2))
        await insert_call(
            self.connection, random_instant(self.rng), decisions, territory=self.rng.choice(self.territories),
            channel=self.rng.choice(["15", "116117", "urgences", "professionnel", "autre"]),
            intent=self.rng.choice(["urgences", "medecin", "inconnu"]),
            priority=self.rng.choice([None, "P1", "P2", "P3"]),
            callback_after_minutes=random_delay(self.rng),
        )

    async def a_callback(self) -> None:
        await self.execute(
            "UPDATE calls SET first_callback_at = received_at + make_interval(secs => :s) "
            "WHERE id = (SELECT id FROM calls ORDER BY random() LIMIT 1)", s=self.rng.uniform(0, 12000))

    async def a_decision(self) -> None:
        kind, _, reason = self.rng.choice(KINDS).partition(":")
        await self.execute(
            "INSERT INTO decisions (call_id, kind, other_reason, decided_at) "
            "SELECT id, :k, :r, now() FROM calls ORDER BY random() LIMIT 2", k=kind, r=reason or None)

    async def a_decision_removed(self) -> None:
        await self.execute("DELETE FROM decisions WHERE id IN (SELECT id FROM decisions ORDER BY random() LIMIT 2)")

    async def a_correction(self) -> None:
        column, value = self.rng.choice([
            ("received_at", random_instant(self.rng)), ("priority", self.rng.choice([None, "P1", "P3"])),
            ("channel", "116117"), ("intent_without_sas", "urgences"),
            ("territory_code", self.rng.choice(self.territories)),
        ])
        await self.execute(f"UPDATE calls SET {column} = :v WHERE id IN (SELECT id FROM calls ORDER BY random() "
                           "LIMIT 3)", v=value)

    async def a_deletion(self) -> None:
        await self.execute("DELETE FROM calls WHERE id IN (SELECT id FROM calls WHERE NOT EXISTS "
                           "(SELECT 1 FROM bookings b WHERE b.call_id = calls.id) ORDER BY random() LIMIT 1)")

    async def a_time_zone_change(self) -> None:
        zone = self.rng.choice(["Indian/Reunion", "Asia/Dubai", "Europe/Paris"])
        await self.execute("UPDATE territories SET timezone = :z WHERE code = '974'", z=zone)

    async def a_fold(self) -> None:
        await self.execute("SELECT stats_compact()")

    async def step(self) -> str:
        name = self.rng.choice(["a_call"] * 4 + [
            "a_callback", "a_decision", "a_decision_removed", "a_correction", "a_deletion", "a_time_zone_change",
            "a_fold",
        ])
        await getattr(self, name)()
        return name


class TestRollupNeverDisagrees:
    @pytest.mark.parametrize("seed", range(4))
    async def test_after_any_sequence_of_writes_the_rollup_reads_as_the_calls(
        self, seed, client, connection, auth
    ):
        await create_cpts(client, auth("admin"), "36-rollup")
        rng = random.Random(seed)
        await connection.execute(text("SELECT setseed(:s)"), {"s": seed / 10})
        writer = Writer(rng, connection, [*TERRITORIES, "36-rollup"])
        for _ in range(25):
            await writer.a_call()
        done = []
        for _ in range(30):
            done.append(await writer.step())
            rolled, counted = await both_ways(connection)
            assert rolled == counted, done
            # a territory's report reads its own cells and minutes: the département with its CPTS, the CPTS
            # alone, and a territory whose time zone the writes change
            code = rng.choice([*TERRITORIES, "36-rollup"])
            rolled_here, counted_here = await both_ways(connection, code)
            assert rolled_here == counted_here, (code, done)
        for code in [*TERRITORIES, "36-rollup"]:
            rolled_here, counted_here = await both_ways(connection, code)
            assert rolled_here == counted_here, (code, done)
        assert counted[None]["calls"] > 0 and counted[None]["delay_median"] is not None
        assert len(set(done)) >= 6

    async def test_the_national_report_folds_nothing_and_reads_pending_writes(self, client, connection, auth):
        await insert_call(connection, "2022-03-10T10:00:00+01:00", ["advice"], territory="36",
                          callback_after_minutes=12.5)
        before = await monthly(client, auth("admin"), "FR", "2022-03", "2022-03")
        pending = (await connection.execute(text("SELECT count(*) FROM stats_call_deltas"))).scalar_one()
        assert pending > 0 and before["total"]["calls"] == 1
        assert before["total"]["callback_delay"]["median_minutes"] == 12.5
        folded = (await connection.execute(text("SELECT stats_compact()"))).scalar_one()
        assert folded == pending
        assert (await connection.execute(text("SELECT count(*) FROM stats_call_deltas"))).scalar_one() == 0
        assert await monthly(client, auth("admin"), "FR", "2022-03", "2022-03") == before

    async def test_a_backlog_is_folded_in_chunks_that_each_stay_short_and_leave_the_report_as_it_was(
        self, client, connection, auth
    ):
        """``stats_compact(n)`` folds at most n deltas; the compactor loops until none is left (a backlog of
        years, after an import, used to be folded in one statement that outlasted the timeout)."""
        for day in range(1, 8):
            await insert_call(connection, f"2022-03-{day:02d}T10:00:00+01:00", ["advice", "slot"][: 1 + day % 2],
                              territory="36", callback_after_minutes=5 + day)
        before = await monthly(client, auth("admin"), "FR", "2022-03", "2022-03")
        pending = (await connection.execute(text("SELECT count(*) FROM stats_call_deltas"))).scalar_one()
        assert pending > 6
        first = (await connection.execute(text("SELECT stats_compact(3)"))).scalar_one()
        assert first == 3
        assert (await connection.execute(text("SELECT count(*) FROM stats_call_deltas"))).scalar_one() == pending - 3
        assert await monthly(client, auth("admin"), "FR", "2022-03", "2022-03") == before  # exact mid-way too
        rest = 0
        while step := (await connection.execute(text("SELECT stats_compact(3)"))).scalar_one():
            assert step <= 3
            rest += step
        assert first + rest == pending
        assert await monthly(client, auth("admin"), "FR", "2022-03", "2022-03") == before

    async def test_a_cpts_given_a_time_zone_of_its_own_is_read_in_it_call_by_call(self, client, connection, auth):
        """The rollup's months are each territory's département's; a CPTS whose own time zone differs (Paris, under
        La Réunion) has its months read in its own zone: 22:30 in Paris on 28 February is already March in La
        Réunion, so its cells would put the call in March."""
        await create_cpts(client, auth("admin"), "974-paris", parent="974")
        await insert_call(connection, "2022-02-28T21:30:00+00:00", ["advice"], territory="974-paris",
                          callback_after_minutes=7)
        async with AsyncSession(bind=connection, join_transaction_mode="create_savepoint") as session:
            admin = Principal(sub="t", role="admin")
            assert not (await service.subject_of(session, admin, "974-paris")).rolled_up
            assert (await service.subject_of(session, admin, "974")).rolled_up
        february = await monthly(client, auth("admin"), "974-paris", "2022-02", "2022-03")
        assert [m["calls"] for m in february["months"]] == [1, 0]
        assert february["months"][0]["callback_delay"]["median_minutes"] == 7
        # its département reads its own months, where the CPTS's call is in March
        reunion = await monthly(client, auth("admin"), "974", "2022-02", "2022-03")
        assert [m["calls"] for m in reunion["months"]] == [0, 1]
