"""webhook relay: each receiver's own state, so that one receiver's failures are its own.

One row per practitioner whose webhook failed at least once: consecutive failures, the last error
(its kind and text), when, the last delivery, and the instant before which the relay leaves the
receiver alone. A receiver that does not resolve or times out no longer costs its neighbours a round.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_receivers",
        sa.Column("practitioner_id", sa.UUID(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error_kind", sa.String(length=16), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["practitioner_id"], ["practitioners.id"], ondelete="CASCADE",
                                name=op.f("fk_webhook_receivers_practitioner_id_practitioners")),
        sa.PrimaryKeyConstraint("practitioner_id", name=op.f("pk_webhook_receivers")),
    )


def downgrade() -> None:
    op.drop_table("webhook_receivers")
