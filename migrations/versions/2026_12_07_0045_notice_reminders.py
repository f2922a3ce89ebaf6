"""the reminder before the appointment: a message of kind ``reminder``, queued with its confirmation and due at
its time (``not_before``, where ``next_attempt_at`` starts); an outbox event now queues one message per kind and channel. A booking that
replaces another (a change of slot) is told as ``moved``.

Revision ID: 0045
Revises: 0044
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0045"
down_revision: str | None = "0044"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("notices", sa.Column("not_before", postgresql.TIMESTAMP(timezone=True), nullable=True))
    op.drop_constraint("kind", "notices", type_="check")
    op.create_check_constraint("kind", "notices", "kind IN ('confirmation', 'cancellation', 'reminder', 'moved')")
    op.drop_index("uq_notices_event_channel", table_name="notices")
    op.create_index("uq_notices_event_kind_channel", "notices", ["event_id", "kind", "channel"], unique=True)


def downgrade() -> None:
    op.execute("DELETE FROM notices WHERE kind IN ('reminder', 'moved')")
    op.drop_index("uq_notices_event_kind_channel", table_name="notices")
    op.create_index("uq_notices_event_channel", "notices", ["event_id", "channel"], unique=True)
    op.drop_constraint("kind", "notices", type_="check")
    op.create_check_constraint("kind", "notices", "kind IN ('confirmation', 'cancellation')")
    op.drop_column("notices", "not_before")
