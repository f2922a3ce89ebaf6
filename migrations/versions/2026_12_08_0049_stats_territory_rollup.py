"""stats: a territory's report reads its calls from the rollup, by the territory's own keys.

A territory's calls were counted call by call: about 24 ms of PostgreSQL for a département's month of 50 000
calls, half of a report's cost, on the cores the operators use. The rollup's cells already hold the same counters
by territory and month (its primary key begins with the territory); what a territory could not read there cheaply
were its exact medians, whose calls of one callback minute were found through an index of the whole nation's
minute. That index now begins with the territory, so that the calls of one territory's minute are one index range;
the national report reads the same ranges, territory by territory. The rollup's pending deltas get an index on
(territory, month): a territory reads its own among the whole nation's.

Revision ID: 0049
Revises: 0048
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0049"
down_revision: str | None = "0048"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MINUTE = "CAST(ceil(EXTRACT(epoch FROM first_callback_at - received_at) / 60) AS integer)"


def upgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_stats_calls_delay")
    op.execute(f"CREATE INDEX ix_stats_calls_delay ON calls (territory_code, ({_MINUTE}), received_at) "
               "INCLUDE (first_callback_at) WHERE first_callback_at IS NOT NULL")
    op.execute("CREATE INDEX ix_stats_call_deltas_key ON stats_call_deltas (territory_code, month)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_stats_call_deltas_key")
    op.execute("DROP INDEX IF EXISTS ix_stats_calls_delay")
    op.execute(f"CREATE INDEX ix_stats_calls_delay ON calls (({_MINUTE}), received_at) "
               "INCLUDE (territory_code, first_callback_at) WHERE first_callback_at IS NOT NULL")
