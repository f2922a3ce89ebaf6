"""who may book a slot: ``bookable_by`` (a bit mask of booker classes) and ``release_before``.

Bits (app/slots/bookers.py): regulation = 1, urgences = 2, referrers = 4, cpts = 8; every slot and
rule so far is open to all of them (15). ``release_before`` opens a slot to every booker from that
long before its start. Both are read by the claiming SQL (``slots.repository.CLAIMABLE``).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("slots", "availability_rules")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("bookable_by", sa.SmallInteger(), server_default=sa.text("15"),
                                       nullable=False))
        op.add_column(table, sa.Column("release_before", sa.Interval(), nullable=True))
        op.create_check_constraint(op.f(f"ck_{table}_bookable_by"), table, "bookable_by BETWEEN 1 AND 15")
        op.create_check_constraint(op.f(f"ck_{table}_release_before"), table,
                                   "release_before BETWEEN interval '0' AND interval '30 days'")


def downgrade() -> None:
    for table in TABLES:
        op.drop_constraint(op.f(f"ck_{table}_release_before"), table, type_="check")
        op.drop_constraint(op.f(f"ck_{table}_bookable_by"), table, type_="check")
        op.drop_column(table, "release_before")
        op.drop_column(table, "bookable_by")
