"""a CPTS's FINESS number: the national platform knows a CPTS by it (the guide's Organization).

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("territories", sa.Column("finess", sa.String(9), nullable=True))
    op.create_check_constraint(op.f("ck_territories_finess"), "territories", "finess ~ '^([0-9]{2}|2[AB])[0-9]{7}$'")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_territories_finess"), "territories", type_="check")
    op.drop_column("territories", "finess")
