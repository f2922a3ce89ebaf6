"""the territories bump the registry's generation too: every process keeps the territory scopes it read (the
codes a user sees, with their CPTS) and forgets them when a territory is written anywhere.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0036"
down_revision: str | None = "0035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE TRIGGER territories_registry_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
               "ON territories FOR EACH STATEMENT EXECUTE FUNCTION registry_changed()")


def downgrade() -> None:
    op.execute("DROP TRIGGER territories_registry_changed ON territories")
