"""a prescription decision keeps what was prescribed: free text beside the pharmacy's FINESS, sealed at rest
as the call's reason is, part of the regulation's record (emptied with the observations, at the end of
``SNP_RECORD_RETENTION_DAYS``).

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("decisions", sa.Column("prescribed", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("decisions", "prescribed")
