"""how the patient wants to be told of his appointment: notify (sms, email, both, none), who consented, and his
e-mail address (sealed as the phone is, purged with it).

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0037"
down_revision: str | None = "0036"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("calls", sa.Column("patient_email", sa.Text(), nullable=True))
    op.add_column("calls", sa.Column("notify", sa.String(length=8), server_default="none", nullable=False))
    op.add_column("calls", sa.Column("notify_consent", sa.String(length=8), nullable=True))
    op.create_check_constraint("notify", "calls", "notify IN ('sms', 'email', 'both', 'none')")
    op.create_check_constraint("notify_consent", "calls",
                               "notify_consent IS NULL OR notify_consent IN ('patient', 'parent')")


def downgrade() -> None:
    op.drop_constraint("notify_consent", "calls", type_="check")
    op.drop_constraint("notify", "calls", type_="check")
    op.drop_column("calls", "notify_consent")
    op.drop_column("calls", "notify")
    op.drop_column("calls", "patient_email")
