"""stats: covering indexes for the monthly report (calls of a territory and period, decisions of a call, slots).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_stats_calls_scope", "calls", ["territory_code", "received_at"], unique=False,
        postgresql_include=["id", "channel", "intent_without_sas", "priority", "first_callback_at"],
    )
    op.create_index(
        "ix_stats_decisions_fold", "decisions", ["call_id"], unique=False, postgresql_include=["kind", "other_reason"]
    )
    op.create_index(
        "ix_stats_slots_scope", "slots", ["territory_code", "start_at"], unique=False,
        postgresql_include=["id", "end_at"], postgresql_where=sa.text("status <> 'withdrawn'"),
    )


def downgrade() -> None:
    op.drop_index("ix_stats_slots_scope", table_name="slots", postgresql_where=sa.text("status <> 'withdrawn'"))
    op.drop_index("ix_stats_decisions_fold", table_name="decisions")
    op.drop_index("ix_stats_calls_scope", table_name="calls")
