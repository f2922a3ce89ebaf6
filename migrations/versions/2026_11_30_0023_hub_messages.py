"""the Hub Santé flow: each appointment message sent to a SAMU and the answer it got (final
acknowledgement or error); and the names and e-mail of a registered user, which the SAMU is told of
the person who booked.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hub_messages",
        sa.Column("distribution_id", sa.String(200), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("recipient", sa.String(100), nullable=False),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ack_step", sa.String(20), nullable=True),
        sa.Column("refused", sa.Boolean(), nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("error_cause", sa.Text(), nullable=True),
        sa.Column("error_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["booking_id"], ["bookings.id"], name=op.f("fk_hub_messages_booking_id_bookings")),
        sa.PrimaryKeyConstraint("distribution_id", name=op.f("pk_hub_messages")),
        sa.UniqueConstraint("event_id", name=op.f("uq_hub_messages_event_id")),
    )
    op.create_index("ix_hub_messages_booking", "hub_messages", ["booking_id", "sent_at"])
    op.add_column("users", sa.Column("family_name", sa.String(100), nullable=True))
    op.add_column("users", sa.Column("given_name", sa.String(100), nullable=True))
    op.add_column("users", sa.Column("email", sa.String(200), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "email")
    op.drop_column("users", "given_name")
    op.drop_column("users", "family_name")
    op.drop_index("ix_hub_messages_booking", table_name="hub_messages")
    op.drop_table("hub_messages")
