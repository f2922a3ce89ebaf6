"""over-capacity appointments (rendez-vous en surnuméraire): a doctor who said he accepts them sees one
more patient at an agreed time outside his published slots.

The appointment is a slot of its own, ``over_capacity``, written already booked by the booking
statement: the exclusion constraint that keeps a doctor's live slots apart refuses it when he has a
slot or another appointment then; search never shows it (it is never free); cancelled, it is
withdrawn, not freed. ``practitioners.accepts_over_capacity`` is the doctor's consent.

Also: an index for an ED nurse's own bookings (``GET /v1/bookings?mine=true``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("slots", sa.Column("over_capacity", sa.Boolean(), server_default=sa.text("false"), nullable=False))
    op.add_column("practitioners", sa.Column("accepts_over_capacity", sa.Boolean(), server_default=sa.text("false"),
                                             nullable=False))
    # Never offered: an over-capacity appointment exists only booked (or withdrawn once cancelled).
    op.create_check_constraint(op.f("ck_slots_over_capacity_never_free"), "slots",
                               "NOT over_capacity OR status <> 'free'")
    # GET /v1/bookings?mine=true: an ED nurse's redirections, newest first.
    op.create_index("ix_bookings_created_by_created_at", "bookings", ["created_by", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_bookings_created_by_created_at", "bookings")
    op.drop_constraint(op.f("ck_slots_over_capacity_never_free"), "slots", type_="check")
    op.drop_column("practitioners", "accepts_over_capacity")
    op.drop_column("slots", "over_capacity")
