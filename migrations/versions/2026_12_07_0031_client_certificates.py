"""the national platform signs in with a client certificate (mutual TLS, IGC-Santé): a user may be known
by its certificate's issuer and subject CN and OU, with the role ``platform`` only.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("certificate_issuer", sa.String(length=500), nullable=True))
    op.add_column("users", sa.Column("certificate_cn", sa.String(length=200), nullable=True))
    op.add_column("users", sa.Column("certificate_ou", sa.String(length=500), nullable=True))
    op.drop_constraint(op.f("ck_users_identified"), "users", type_="check")
    op.create_check_constraint(op.f("ck_users_identified"), "users",
                               "subject IS NOT NULL OR rpps IS NOT NULL OR certificate_cn IS NOT NULL")
    op.create_check_constraint(op.f("ck_users_certificate_platform"), "users",
                               "certificate_cn IS NULL OR role = 'platform'")
    op.create_check_constraint(op.f("ck_users_certificate_whole"), "users",
                               "(certificate_issuer IS NULL) = (certificate_cn IS NULL) "
                               "AND (certificate_ou IS NULL) = (certificate_cn IS NULL)")
    op.create_unique_constraint(op.f("uq_users_certificate_issuer_certificate_cn_certificate_ou"), "users",
                                ["certificate_issuer", "certificate_cn", "certificate_ou"])


def downgrade() -> None:
    op.execute("DELETE FROM users WHERE subject IS NULL AND rpps IS NULL")
    op.drop_constraint(op.f("uq_users_certificate_issuer_certificate_cn_certificate_ou"), "users", type_="unique")
    op.drop_constraint(op.f("ck_users_certificate_whole"), "users", type_="check")
    op.drop_constraint(op.f("ck_users_certificate_platform"), "users", type_="check")
    op.drop_constraint(op.f("ck_users_identified"), "users", type_="check")
    op.create_check_constraint(op.f("ck_users_identified"), "users", "subject IS NOT NULL OR rpps IS NOT NULL")
    op.drop_column("users", "certificate_ou")
    op.drop_column("users", "certificate_cn")
    op.drop_column("users", "certificate_issuer")
