"""rate limits: the requests each key used in a window, summed over every instance of the app.

Each instance counts in memory and adds what it counted here about once a second, reading back what
all instances used; no request writes to the database. UNLOGGED: after a crash the counts start
again from zero, which only forgives one window.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("""
        CREATE UNLOGGED TABLE rate_usage (
            key varchar(200) NOT NULL,
            window_start timestamptz NOT NULL,
            used integer NOT NULL,
            CONSTRAINT pk_rate_usage PRIMARY KEY (key, window_start)
        )
    """)


def downgrade() -> None:
    op.execute("DROP TABLE rate_usage")
