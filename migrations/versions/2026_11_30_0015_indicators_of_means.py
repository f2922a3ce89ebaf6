"""indicators of means: the postcodes a territory serves, and the re-oriented calls at hand.

- ``territories.postcodes``: the postcodes a CPTS covers, set by an administrator (a département
  covers the postcodes La Poste places in it); the report's share of postcodes within 30 km of a site
  with a slot is measured over them;
- ``ix_calls_reoriented``: the few calls re-oriented at least once, by territory and time, so that the
  report counts them without reading the others.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("territories", sa.Column("postcodes", sa.ARRAY(sa.String(5)), nullable=True))
    op.create_index("ix_calls_reoriented", "calls", ["territory_code", "received_at"],
                    postgresql_where=sa.text("reorient_at IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_calls_reoriented", "calls")
    op.drop_column("territories", "postcodes")
