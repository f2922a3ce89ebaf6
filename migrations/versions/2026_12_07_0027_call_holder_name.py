"""who has a call, by name: the registry's display name (the subject otherwise) of the person a call is
assigned to, kept with it, so that a queue and a take-over say who, not an opaque identifier.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("calls", sa.Column("assigned_name", sa.String(length=200), nullable=True))
    op.execute("UPDATE calls SET assigned_name = assigned_to WHERE assigned_to IS NOT NULL")


def downgrade() -> None:
    op.drop_column("calls", "assigned_name")
