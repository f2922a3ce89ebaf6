"""regulators the national platform registers (its regulator accounts, INT_R02): known by their national id or
their SAS technical id alone, marked as provisioned by the platform (their rights hold only in a session opened
from the platform, ``origin=sas``: the sessions so opened are kept by their tokens' digests), with the terms of
use they accepted; the registry's generation, bumped by every change to the users, tells every process at once
that what it keeps of the registry is stale (a disabled account is refused at once everywhere).

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("provisioned_by", sa.String(length=40), nullable=True))
    op.add_column("users", sa.Column("terms_version", sa.String(length=64), nullable=True))
    op.add_column("users", sa.Column("terms_accepted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint("provisioned_by", "users",
                               "provisioned_by IS NULL OR (provisioned_by = 'ptf-sas' AND role = 'regulator')")
    op.drop_constraint(op.f("ck_users_identified"), "users", type_="check")
    op.create_check_constraint("identified", "users",
                               "subject IS NOT NULL OR rpps IS NOT NULL OR certificate_cn IS NOT NULL "
                               "OR national_id IS NOT NULL OR sas_technical_id IS NOT NULL")
    op.create_table(
        "platform_sessions",
        sa.Column("token_digest", sa.LargeBinary(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("refresh_digest", sa.LargeBinary(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_platform_sessions_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_digest", name=op.f("pk_platform_sessions")),
    )
    op.create_index("ix_platform_sessions_refresh_digest", "platform_sessions", ["refresh_digest"])
    op.create_index("ix_platform_sessions_expires_at", "platform_sessions", ["expires_at"])
    op.create_table(
        "registry_generation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_registry_generation_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_generation")),
    )
    op.execute("INSERT INTO registry_generation (id, n) VALUES (1, 0)")
    op.execute("""
        CREATE FUNCTION registry_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE registry_generation SET n = n + 1 WHERE id = 1;
            RETURN NULL;
        END $$
    """)
    op.execute("CREATE TRIGGER users_registry_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON users "
               "FOR EACH STATEMENT EXECUTE FUNCTION registry_changed()")


def downgrade() -> None:
    op.execute("DROP TRIGGER users_registry_changed ON users")
    op.execute("DROP FUNCTION registry_changed()")
    op.drop_table("registry_generation")
    op.drop_index("ix_platform_sessions_expires_at", table_name="platform_sessions")
    op.drop_index("ix_platform_sessions_refresh_digest", table_name="platform_sessions")
    op.drop_table("platform_sessions")
    op.drop_constraint(op.f("ck_users_identified"), "users", type_="check")
    op.execute("DELETE FROM users WHERE subject IS NULL AND rpps IS NULL AND certificate_cn IS NULL")
    op.create_check_constraint("identified", "users",
                               "subject IS NOT NULL OR rpps IS NOT NULL OR certificate_cn IS NOT NULL")
    op.drop_constraint(op.f("ck_users_provisioned_by"), "users", type_="check")
    op.drop_column("users", "terms_accepted_at")
    op.drop_column("users", "terms_version")
    op.drop_column("users", "provisioned_by")
