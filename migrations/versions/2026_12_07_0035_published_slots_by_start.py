"""the published slots by start, with their territory: /metrics counts, at each scrape, the slots of the next
24 hours and of the same 24 hours of the last four weeks per territory, by an index-only scan.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0035"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_slots_published_start", "slots", ["start_at"], postgresql_include=["territory_code"],
                    postgresql_where=sa.text("status <> 'withdrawn' AND NOT over_capacity"))


def downgrade() -> None:
    op.drop_index("ix_slots_published_start", table_name="slots")
