"""the users registry: the rights of the identity provider's users (Pro Santé Connect), by subject or RPPS.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("subject", sa.String(200), nullable=True),
        sa.Column("rpps", sa.String(11), nullable=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("territories", postgresql.ARRAY(sa.String(40)), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("practitioner_id", sa.UUID(), nullable=True),
        sa.Column("referrer_kind", sa.String(30), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("subject IS NOT NULL OR rpps IS NOT NULL", name=op.f("ck_users_identified")),
        sa.CheckConstraint("rpps ~ '^[0-9]{11}$'", name=op.f("ck_users_rpps_format")),
        sa.CheckConstraint("role IN ('effector', 'operator', 'regulator', 'urgences', 'referrer', 'analyst', 'admin', "
                           "'platform')", name=op.f("ck_users_role")),
        sa.CheckConstraint("role <> 'effector' OR practitioner_id IS NOT NULL",
                           name=op.f("ck_users_effector_practitioner")),
        sa.CheckConstraint("(role = 'referrer') = (referrer_kind IS NOT NULL)", name=op.f("ck_users_referrer_kind")),
        sa.ForeignKeyConstraint(["practitioner_id"], ["practitioners.id"],
                                name=op.f("fk_users_practitioner_id_practitioners")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("subject", name=op.f("uq_users_subject")),
        sa.UniqueConstraint("rpps", name=op.f("uq_users_rpps")),
    )


def downgrade() -> None:
    op.drop_table("users")
