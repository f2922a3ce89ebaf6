"""calls: at most one slot decision per booking.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_decisions_booking_id", table_name="decisions")
    op.create_index(
        "uq_decisions_booking_id", "decisions", ["booking_id"], unique=True,
        postgresql_where=sa.text("booking_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_decisions_booking_id", table_name="decisions")
    op.create_index("ix_decisions_booking_id", "decisions", ["booking_id"], unique=False)
