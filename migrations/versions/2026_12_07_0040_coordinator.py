"""the role coordinator: a CPTS's coordinator, who finds a médecin traitant for the patients without one,
walled to his territories.

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0040"
down_revision: str | None = "0039"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = "role IN ('effector', 'operator', 'regulator', 'urgences', 'referrer', 'analyst', 'admin', 'platform')"
AFTER = ("role IN ('effector', 'operator', 'regulator', 'urgences', 'referrer', 'analyst', 'admin', 'platform', "
         "'coordinator')")


def upgrade() -> None:
    op.drop_constraint(op.f("ck_users_role"), "users", type_="check")
    op.create_check_constraint(op.f("ck_users_role"), "users", AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM users WHERE role = 'coordinator'")
    op.drop_constraint(op.f("ck_users_role"), "users", type_="check")
    op.create_check_constraint(op.f("ck_users_role"), "users", BEFORE)
