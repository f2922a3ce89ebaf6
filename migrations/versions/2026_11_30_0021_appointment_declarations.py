"""appointments declared both ways (the ANS guide's FrAppointmentSAS): the transaction that wrote each
outbox event, so that a declarer reads them in commit-safe order; where it stands; and the appointments
agenda software declared to us.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.platform.columns import XID8

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # An event is final once its transaction is older than every running one (pg_snapshot_xmin): the
    # declarer reads up to there in (xid, seq) order and never skips one that commits late.
    op.execute("ALTER TABLE outbox_events ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id()")
    op.create_index("ix_outbox_events_xid_seq", "outbox_events", ["xid", "seq"])
    op.create_table(
        "declaration_cursors",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("xid", XID8(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_declaration_cursors")),
    )
    op.create_table(
        "declared_appointments",
        sa.Column("system", sa.String(500), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("booking_id", sa.UUID(), nullable=False),
        sa.Column("declared_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["booking_id"], ["bookings.id"], name=op.f("fk_declared_appointments_booking_id_bookings")),
        sa.PrimaryKeyConstraint("system", "value", name=op.f("pk_declared_appointments")),
        sa.UniqueConstraint("booking_id", name=op.f("uq_declared_appointments_booking_id")),
    )


def downgrade() -> None:
    op.drop_table("declared_appointments")
    op.drop_table("declaration_cursors")
    op.drop_index("ix_outbox_events_xid_seq", table_name="outbox_events")
    op.drop_column("outbox_events", "xid")
