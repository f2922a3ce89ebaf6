"""The report's statements can use the indexes made for them, and its counters are the rollup's."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.stats import repository, service
from app.stats.facts import COUNTERS


async def _plan(connection, sql: str, national: bool) -> str:
    async with AsyncSession(bind=connection, join_transaction_mode="create_savepoint") as session:
        subject = await service.subject_of(session, Principal(sub="t", role="admin"), "FR" if national else "36")
        first, after = dt.date(2022, 1, 1), dt.date(2023, 1, 1)
        params = await repository.window(session, subject.scope, first, after)
        params.update({"first": first, "after": after, "year": first.year, "month": first.month})
        # With sequential scans priced out, a statement whose expression no longer matches its index
        # shows it at once: the plan falls back to a scan of calls.
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        rows = (await session.execute(text("EXPLAIN " + sql), params)).scalars().all()
        return "\n".join(rows)


async def _called_back(connection) -> None:
    """Calls called back within 90 minutes, over ten territories and three years, analysed: the planner's real
    statistics."""
    await connection.execute(text("""
        INSERT INTO calls (territory_code, channel, received_at, first_callback_at, status, source)
        SELECT (ARRAY['36','18','37','41','45','28','03','23','87','86'])[1 + g % 10], '15',
               timestamptz '2021-01-01' + make_interval(hours => g * 5),
               timestamptz '2021-01-01' + make_interval(hours => g * 5, mins => g % 90), 'closed', 'import'
        FROM generate_series(1, 6000) AS g
    """))
    await connection.execute(text("ANALYZE calls"))


class TestReportPlans:
    async def test_a_territory_report_reads_its_calls_by_territory_and_time(self, connection):
        # A few thousand calls over ten territories and three years, so the planner has real statistics.
        await connection.execute(text("""
            INSERT INTO calls (territory_code, channel, received_at, status, source)
            SELECT (ARRAY['36','18','37','41','45','28','03','23','87','86'])[1 + g % 10], '15',
                   timestamptz '2021-01-01' + make_interval(hours => g * 5), 'closed', 'import'
            FROM generate_series(1, 6000) AS g
        """))
        await connection.execute(text("ANALYZE calls"))
        plan = await _plan(connection, repository.CALLS_SQL, national=False)
        # ix_stats_calls_scope (covering) or its twin ix_calls_territory_received: a range on
        # (territory_code, received_at), never the whole table nor every call of the territory.
        assert "ix_stats_calls_scope" in plan or "ix_calls_territory_received" in plan, plan
        assert "Seq Scan on calls" not in plan, plan

    async def test_a_territory_reads_its_own_cells_and_minutes_of_the_rollup(self, connection):
        await _called_back(connection)
        plan = await _plan(connection, repository.ROLLUP_SQL, national=False)
        cells = [line for line in plan.splitlines() if "stats_call_cells" in line or "stats_call_deltas" in line]
        conditions = plan.split("stats_call_cells", 1)[1].split("->", 2)[:2]
        assert cells and "Seq Scan on stats_call_cells" not in plan, plan
        assert any("territory_code" in part for part in conditions), plan
        minutes = plan.split("ix_stats_calls_delay", 1)[1].split("->", 1)[0]
        assert "territory_code" in minutes, plan  # one range per territory and minute, not the nation's minute

    async def test_the_national_medians_read_only_the_minutes_they_need_through_the_delay_index(self, connection):
        await _called_back(connection)
        plan = await _plan(connection, repository.ROLLUP_SQL, national=True)
        assert "ix_stats_calls_delay" in plan, plan
        assert "Seq Scan on calls" not in plan, plan


class TestCountersOnce:
    async def test_the_rollup_cells_hold_exactly_the_reports_counters_in_order(self, connection):
        columns = (await connection.execute(text(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'stats_call_cells' "
            "ORDER BY ordinal_position"
        ))).scalars().all()
        assert list(columns[5:]) == list(COUNTERS)
        assert repository.COUNTS == tuple(COUNTERS)
