"""doctors and sites have phone numbers (the regulation calls the doctor to agree an over-capacity
appointment), and a doctor has his own sites: ``practitioner_sites``, set by him or an administrator,
each in a territory he serves. An over-capacity appointment is recorded only at one of them.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("practitioners", sa.Column("phone", sa.String(length=20), nullable=True))
    op.add_column("sites", sa.Column("phone", sa.String(length=20), nullable=True))
    op.create_table(
        "practitioner_sites",
        sa.Column("practitioner_id", sa.UUID(), nullable=False),
        sa.Column("site_id", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(["practitioner_id"], ["practitioners.id"],
                                name=op.f("fk_practitioner_sites_practitioner_id_practitioners"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_practitioner_sites_site_id_sites"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("practitioner_id", "site_id", name=op.f("pk_practitioner_sites")),
    )
    op.create_index(op.f("ix_practitioner_sites_site_id"), "practitioner_sites", ["site_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_practitioner_sites_site_id"), "practitioner_sites")
    op.drop_table("practitioner_sites")
    op.drop_column("sites", "phone")
    op.drop_column("practitioners", "phone")
