"""outbox relay: due events found per practitioner with a webhook.

Events of practitioners without a webhook stay pending for ever (they read the pull feed). The relay
used to walk every pending event in time order each second; it now starts from the practitioners
with a webhook (a partial index) and reads their due events from a per-practitioner pending index.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("delivered_at IS NULL")


def upgrade() -> None:
    op.drop_index("ix_outbox_events_pending", table_name="outbox_events", postgresql_where=PENDING)
    op.create_index("ix_outbox_events_pending", "outbox_events", ["practitioner_id", "next_attempt_at", "seq"],
                    postgresql_where=PENDING)
    op.create_index("ix_practitioners_webhook", "practitioners", ["id"],
                    postgresql_where=sa.text("webhook_url IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_practitioners_webhook", table_name="practitioners")
    op.drop_index("ix_outbox_events_pending", table_name="outbox_events", postgresql_where=PENDING)
    op.create_index("ix_outbox_events_pending", "outbox_events", ["next_attempt_at"], postgresql_where=PENDING)
