"""agenda sync on a schedule: each practitioner's agenda editor (its FHIR base, the site his synced slots
are held at, its token, how often), and how the last run went.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agenda_sources",
        sa.Column("practitioner_id", sa.Uuid(), nullable=False),
        sa.Column("source_url", sa.String(500), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=False),
        sa.Column("token", sa.String(4000), nullable=True),
        sa.Column("every_seconds", sa.Integer(), server_default=sa.text("900"), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_report", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("every_seconds BETWEEN 60 AND 86400", name=op.f("ck_agenda_sources_every_seconds")),
        sa.ForeignKeyConstraint(["practitioner_id"], ["practitioners.id"],
                                name=op.f("fk_agenda_sources_practitioner_id_practitioners")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_agenda_sources_site_id_sites")),
        sa.PrimaryKeyConstraint("practitioner_id", name=op.f("pk_agenda_sources")),
    )
    op.create_index("ix_agenda_sources_due", "agenda_sources", ["next_run_at"],
                    postgresql_where=sa.text("active"))


def downgrade() -> None:
    op.drop_index("ix_agenda_sources_due", table_name="agenda_sources")
    op.drop_table("agenda_sources")
