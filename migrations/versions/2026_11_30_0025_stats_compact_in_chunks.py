"""stats: the rollup's deltas folded in chunks. A single fold of everything pending — after an import of
years of calls, or a seed — outlasted the statement timeout, failed, and was tried again in full every
round; ``stats_compact(max_rows)`` folds at most that many deltas (the oldest rows first found), and the
compactor calls it until the backlog is gone, one short transaction each.

The body is the current ``stats_compact()``'s own (its column list as the migrations left it), with the
deletion bounded.

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHOLE = "DELETE FROM stats_call_deltas RETURNING *"
BOUNDED = ("DELETE FROM stats_call_deltas "
           "WHERE ctid = ANY(ARRAY(SELECT ctid FROM stats_call_deltas LIMIT max_rows)) RETURNING *")


def upgrade() -> None:
    body = op.get_bind().execute(
        text("SELECT pg_get_functiondef('stats_compact()'::regprocedure)")).scalar_one()
    signature = "FUNCTION public.stats_compact()"
    if signature not in body or WHOLE not in body:
        raise RuntimeError("stats_compact() is not the function this migration knows")
    op.execute(body.replace(signature, "FUNCTION public.stats_compact(max_rows bigint)").replace(WHOLE, BOUNDED))


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS stats_compact(bigint)")
