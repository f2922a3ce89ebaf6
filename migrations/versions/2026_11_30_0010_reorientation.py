"""re-orientation: a cancelled booking puts its call back in the queue and stops counting as an orientation.

- ``bookings.cancel_reason``: why the booking was cancelled (said by whoever cancelled it);
- ``decisions.revoked_*``: a decision that no longer holds (its booking was cancelled) stays, for
  the record, but no longer counts: the call's decision masks (migration 0005) are recounted from the
  decisions not revoked, so a call whose only slot decision was revoked is no longer an orientation;
- ``calls.status`` gains ``to_reorient``, with who put it there, when, why and which booking.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANGED = """
CREATE OR REPLACE FUNCTION stats_decisions_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE calls c
           SET decision_kinds = c.decision_kinds | n.kinds, other_reasons = c.other_reasons | n.reasons
          FROM (SELECT call_id, bit_or(stats_kind_bit(kind)) AS kinds,
                       bit_or(stats_reason_bit(other_reason)) AS reasons
                  FROM added WHERE revoked_at IS NULL GROUP BY call_id) n
         WHERE c.id = n.call_id;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM stats_recount_calls(ARRAY(SELECT DISTINCT call_id FROM removed));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM stats_recount_calls(ARRAY(SELECT call_id FROM removed UNION SELECT call_id FROM added));
    ELSE
        UPDATE calls SET decision_kinds = 0, other_reasons = 0 WHERE decision_kinds <> 0 OR other_reasons <> 0;
    END IF;
    RETURN NULL;
END $$
"""

RECOUNT = """
CREATE OR REPLACE FUNCTION stats_recount_calls(ids uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM calls WHERE id = ANY(ids) ORDER BY id FOR NO KEY UPDATE;
    UPDATE calls c
       SET decision_kinds = f.kinds, other_reasons = f.reasons
      FROM (SELECT t.id, coalesce(bit_or(stats_kind_bit(d.kind)), 0) AS kinds,
                   coalesce(bit_or(stats_reason_bit(d.other_reason)), 0) AS reasons
              FROM unnest(ids) AS t(id) LEFT JOIN decisions d ON d.call_id = t.id AND d.revoked_at IS NULL
             GROUP BY t.id) f
     WHERE c.id = f.id AND (c.decision_kinds <> f.kinds OR c.other_reasons <> f.reasons);
END $$
"""

STATUSES = "status IN ('waiting', 'in_progress', 'to_reorient', 'closed')"


def upgrade() -> None:
    op.add_column("bookings", sa.Column("cancel_reason", sa.Text(), nullable=True))
    op.add_column("decisions", sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("decisions", sa.Column("revoked_by", sa.String(200), nullable=True))
    op.add_column("decisions", sa.Column("revoked_reason", sa.Text(), nullable=True))
    for name, column in (("reorient_at", sa.DateTime(timezone=True)), ("reorient_by", sa.String(200)),
                         ("reorient_by_role", sa.String(16)), ("reorient_reason", sa.Text()),
                         ("reorient_booking_id", sa.Uuid())):
        op.add_column("calls", sa.Column(name, column, nullable=True))
    op.drop_constraint(op.f("ck_calls_status"), "calls", type_="check")
    op.create_check_constraint(op.f("ck_calls_status"), "calls", STATUSES)
    op.execute(RECOUNT)
    op.execute(CHANGED)
    op.create_check_constraint(
        op.f("ck_decisions_revoked_whole"), "decisions",
        "(revoked_at IS NULL) = (revoked_by IS NULL)",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_decisions_revoked_whole"), "decisions", type_="check")
    op.execute(RECOUNT.replace(" AND d.revoked_at IS NULL", ""))
    op.execute(CHANGED.replace(" WHERE revoked_at IS NULL", ""))
    # Revoked decisions count again: the masks are recounted from every decision (the guard against direct
    # writes of the masks stands aside meanwhile; the rollup's triggers follow the change).
    op.execute("ALTER TABLE calls DISABLE TRIGGER stats_call_facts_updated")
    op.execute("""UPDATE calls c SET decision_kinds = f.kinds, other_reasons = f.reasons
                  FROM (SELECT call_id, bit_or(stats_kind_bit(kind)) AS kinds,
                               bit_or(stats_reason_bit(other_reason)) AS reasons
                        FROM decisions GROUP BY call_id) f
                  WHERE c.id = f.call_id AND (c.decision_kinds <> f.kinds OR c.other_reasons <> f.reasons)""")
    op.execute("ALTER TABLE calls ENABLE TRIGGER stats_call_facts_updated")
    op.execute("UPDATE calls SET status = 'in_progress' WHERE status = 'to_reorient'")
    op.drop_constraint(op.f("ck_calls_status"), "calls", type_="check")
    op.create_check_constraint(op.f("ck_calls_status"), "calls", "status IN ('waiting', 'in_progress', 'closed')")
    for name in ("reorient_booking_id", "reorient_reason", "reorient_by_role", "reorient_by", "reorient_at"):
        op.drop_column("calls", name)
    for name in ("revoked_reason", "revoked_by", "revoked_at"):
        op.drop_column("decisions", name)
    op.drop_column("bookings", "cancel_reason")
