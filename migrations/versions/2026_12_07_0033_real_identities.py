"""identities never invented: a user keeps the regulator's national id as the platform gave it (any form) or
his SAS technical id; an appointment event that cannot be told yet (parked) or that its recipient refused is
held, visible, and told later, never skipped; the identifier system of the appointments we declare is fixed
once (those declared before keep theirs); an appointment declared to us keeps its operator and ``created``.

Revision ID: 0033
Revises: 0031
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.platform.columns import XID8

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("national_id", sa.String(length=100), nullable=True))
    op.add_column("users", sa.Column("sas_technical_id", sa.String(length=100), nullable=True))
    op.create_unique_constraint(op.f("uq_users_national_id"), "users", ["national_id"])
    op.create_unique_constraint(op.f("uq_users_sas_technical_id"), "users", ["sas_technical_id"])
    op.create_table(
        "held_events",
        sa.Column("reader", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("booking_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("xid", XID8(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="1", nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("retry_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('parked', 'refused', 'behind')", name=op.f("ck_held_events_state")),
        sa.ForeignKeyConstraint(["booking_id"], ["bookings.id"], name=op.f("fk_held_events_booking_id_bookings")),
        sa.PrimaryKeyConstraint("reader", "event_id", name=op.f("pk_held_events")),
    )
    op.create_index("ix_held_events_reader_booking", "held_events", ["reader", "booking_id", "xid", "seq"])
    op.create_table(
        "identifier_systems",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("system", sa.String(length=500), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_identifier_systems")),
    )
    # The appointments booked until now were declared under this system: they keep it in their updates.
    op.execute("INSERT INTO identifier_systems (name, system) VALUES ('legacy', 'urn:ietf:rfc:3986')")
    op.add_column("declared_appointments", sa.Column("operator_system", sa.String(length=500), nullable=True))
    op.add_column("declared_appointments", sa.Column("operator_value", sa.String(length=200), nullable=True))
    op.add_column("declared_appointments", sa.Column("operator_type", sa.String(length=20), nullable=True))
    op.add_column("declared_appointments", sa.Column("declared_created", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("declared_appointments", "declared_created")
    op.drop_column("declared_appointments", "operator_type")
    op.drop_column("declared_appointments", "operator_value")
    op.drop_column("declared_appointments", "operator_system")
    op.drop_table("identifier_systems")
    op.drop_index("ix_held_events_reader_booking", table_name="held_events")
    op.drop_table("held_events")
    op.drop_constraint(op.f("uq_users_sas_technical_id"), "users", type_="unique")
    op.drop_constraint(op.f("uq_users_national_id"), "users", type_="unique")
    op.drop_column("users", "sas_technical_id")
    op.drop_column("users", "national_id")
