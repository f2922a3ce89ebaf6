"""the patient's médecin traitant on the call (his RPPS, names and MSSanté address, sealed as one text, purged with
the identity) and whether the visit's report may go to him; a practitioner's own MSSanté address.

Revision ID: 0043
Revises: 0042
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0043"
down_revision: str | None = "0042"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("calls", sa.Column("general_practitioner", sa.Text(), nullable=True))
    op.add_column("calls", sa.Column("gp_report", sa.String(length=16), nullable=True))
    op.create_check_constraint("gp_report", "calls", "gp_report IS NULL OR gp_report IN ('not_objected', 'objected')")
    op.add_column("practitioners", sa.Column("mssante_address", sa.String(length=200), nullable=True))


def downgrade() -> None:
    op.drop_column("practitioners", "mssante_address")
    op.drop_constraint("gp_report", "calls", type_="check")
    op.drop_column("calls", "gp_report")
    op.drop_column("calls", "general_practitioner")
