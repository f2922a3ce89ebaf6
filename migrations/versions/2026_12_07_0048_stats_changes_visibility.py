"""stats: a kept report is checked by what its snapshot could not see, not by the highest change number.

Change numbers follow the order in which changes are written, not the order in which their transactions commit:
a transaction that took number N and committed after another that took N+1 was never seen by a report kept under
N+1. Each change now carries its transaction's id (``xid``) and the time it was written; a report is kept with
the snapshot it was computed under, and is given again only while every change of its territories and months is
visible in that snapshot. Superseded changes are dropped only an hour after they were written, and a report is
kept at most half an hour, so that a change a kept snapshot did not see is never dropped while it is kept.

Revision ID: 0048
Revises: 0047
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0048"
down_revision: str | None = "0047"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE stats_changes ADD COLUMN xid bigint NOT NULL "
               "DEFAULT CAST(CAST(pg_current_xact_id() AS text) AS bigint)")
    op.execute("ALTER TABLE stats_changes ADD COLUMN written_at timestamptz NOT NULL DEFAULT clock_timestamp()")


def downgrade() -> None:
    op.execute("ALTER TABLE stats_changes DROP COLUMN written_at")
    op.execute("ALTER TABLE stats_changes DROP COLUMN xid")
