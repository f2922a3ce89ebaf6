"""stats: each call's decision facts kept on its row by triggers; covering indexes for the monthly report.

``calls.decision_kinds`` (advice=1, slot=2, prescription=4, other=8) and ``calls.other_reasons``
(no_answer=1, redirected_15=2, redirected_ed=4, other=8) are bit masks of the call's decisions.
Statement-level triggers on ``decisions`` (with transition tables: one UPDATE per statement, however
many rows it wrote) keep them in the same transaction as the decisions; triggers on ``calls`` refuse
any other writer. The report then reads calls alone, without joining decisions.

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.platform.migrate import sql_statements

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTIONS = """
CREATE FUNCTION stats_kind_bit(kind text) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CAST(CASE kind WHEN 'advice' THEN 1 WHEN 'slot' THEN 2 WHEN 'prescription' THEN 4 WHEN 'other' THEN 8
                      ELSE 0 END AS smallint);

CREATE FUNCTION stats_reason_bit(reason text) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CAST(CASE reason WHEN 'no_answer' THEN 1 WHEN 'redirected_15' THEN 2 WHEN 'redirected_ed' THEN 4
                        WHEN 'other' THEN 8 ELSE 0 END AS smallint);

-- New decisions only add bits: OR them in. When another transaction changed the call first, the
-- UPDATE waits for it and applies the OR to the row's newest version, so no bit is lost.
CREATE FUNCTION stats_decisions_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE calls c
           SET decision_kinds = c.decision_kinds | n.kinds, other_reasons = c.other_reasons | n.reasons
          FROM (SELECT call_id, bit_or(stats_kind_bit(kind)) AS kinds,
                       bit_or(stats_reason_bit(other_reason)) AS reasons
                  FROM added GROUP BY call_id) n
         WHERE c.id = n.call_id;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM stats_recount_calls(ARRAY(SELECT DISTINCT call_id FROM removed));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM stats_recount_calls(ARRAY(SELECT call_id FROM removed UNION SELECT call_id FROM added));
    ELSE
        UPDATE calls SET decision_kinds = 0, other_reasons = 0 WHERE decision_kinds <> 0 OR other_reasons <> 0;
    END IF;
    RETURN NULL;
END $$;

-- Removed or changed decisions: lock the calls, then recount their decisions in a new statement,
-- whose snapshot (READ COMMITTED) holds every decision committed before the lock was granted.
CREATE FUNCTION stats_recount_calls(ids uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM calls WHERE id = ANY(ids) ORDER BY id FOR NO KEY UPDATE;
    UPDATE calls c
       SET decision_kinds = f.kinds, other_reasons = f.reasons
      FROM (SELECT t.id, coalesce(bit_or(stats_kind_bit(d.kind)), 0) AS kinds,
                   coalesce(bit_or(stats_reason_bit(d.other_reason)), 0) AS reasons
              FROM unnest(ids) AS t(id) LEFT JOIN decisions d ON d.call_id = t.id
             GROUP BY t.id) f
     WHERE c.id = f.id AND (c.decision_kinds <> f.kinds OR c.other_reasons <> f.reasons);
END $$;

CREATE FUNCTION stats_call_facts_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'calls.decision_kinds and calls.other_reasons are derived from the decisions table'
        USING ERRCODE = 'check_violation', HINT = 'write decisions; triggers keep the call''s facts';
END $$;

"""

TRIGGERS = """
CREATE TRIGGER stats_decisions_inserted AFTER INSERT ON decisions
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION stats_decisions_changed();
CREATE TRIGGER stats_decisions_deleted AFTER DELETE ON decisions
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION stats_decisions_changed();
CREATE TRIGGER stats_decisions_updated AFTER UPDATE ON decisions
    REFERENCING OLD TABLE AS removed NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION stats_decisions_changed();
CREATE TRIGGER stats_decisions_truncated AFTER TRUNCATE ON decisions
    FOR EACH STATEMENT EXECUTE FUNCTION stats_decisions_changed();

CREATE TRIGGER stats_call_facts_inserted BEFORE INSERT ON calls FOR EACH ROW
    WHEN (NEW.decision_kinds <> 0 OR NEW.other_reasons <> 0) EXECUTE FUNCTION stats_call_facts_guard();
CREATE TRIGGER stats_call_facts_updated BEFORE UPDATE OF decision_kinds, other_reasons ON calls FOR EACH ROW
    WHEN (pg_trigger_depth() = 0
          AND (NEW.decision_kinds <> OLD.decision_kinds OR NEW.other_reasons <> OLD.other_reasons))
    EXECUTE FUNCTION stats_call_facts_guard();
"""

BACKFILL = """
UPDATE calls c SET decision_kinds = f.kinds, other_reasons = f.reasons
FROM (SELECT call_id, bit_or(stats_kind_bit(kind)) AS kinds, bit_or(stats_reason_bit(other_reason)) AS reasons
      FROM decisions GROUP BY call_id) f
WHERE c.id = f.call_id
"""

DROP = """
DROP TRIGGER IF EXISTS stats_call_facts_updated ON calls;
DROP TRIGGER IF EXISTS stats_call_facts_inserted ON calls;
DROP TRIGGER IF EXISTS stats_decisions_truncated ON decisions;
DROP TRIGGER IF EXISTS stats_decisions_updated ON decisions;
DROP TRIGGER IF EXISTS stats_decisions_deleted ON decisions;
DROP TRIGGER IF EXISTS stats_decisions_inserted ON decisions;
DROP FUNCTION IF EXISTS stats_call_facts_guard();
DROP FUNCTION IF EXISTS stats_decisions_changed();
DROP FUNCTION IF EXISTS stats_recount_calls(uuid[]);
DROP FUNCTION IF EXISTS stats_reason_bit(text);
DROP FUNCTION IF EXISTS stats_kind_bit(text);
"""


def upgrade() -> None:
    op.add_column("calls", sa.Column("decision_kinds", sa.SmallInteger(), server_default="0", nullable=False))
    op.add_column("calls", sa.Column("other_reasons", sa.SmallInteger(), server_default="0", nullable=False))
    # No decision may be written between the backfill and the triggers taking over.
    op.execute("LOCK TABLE decisions IN SHARE MODE")
    for statement in sql_statements(FUNCTIONS):
        op.execute(statement)
    op.execute(BACKFILL)
    for statement in sql_statements(TRIGGERS):
        op.execute(statement)
    op.create_index(
        "ix_stats_calls_scope", "calls", ["territory_code", "received_at"], unique=False,
        postgresql_include=["channel", "intent_without_sas", "priority", "first_callback_at", "decision_kinds",
                            "other_reasons"],
    )
    op.create_index(
        "ix_stats_slots_scope", "slots", ["territory_code", "start_at"], unique=False,
        postgresql_include=["id", "end_at"], postgresql_where=sa.text("status <> 'withdrawn'"),
    )


def downgrade() -> None:
    op.drop_index("ix_stats_slots_scope", table_name="slots", postgresql_where=sa.text("status <> 'withdrawn'"))
    op.drop_index("ix_stats_calls_scope", table_name="calls")
    for statement in sql_statements(DROP):
        op.execute(statement)
    op.drop_column("calls", "other_reasons")
    op.drop_column("calls", "decision_kinds")
