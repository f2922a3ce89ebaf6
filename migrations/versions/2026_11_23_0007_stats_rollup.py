"""stats: a rollup of the calls for the national report, kept exact by triggers.

The national report reads 5.4 million calls a year; read call by call it took 7 to 14 s. Each call
now also counts, as it is written, in one *cell*: its territory, its local month (in its
département's time zone), its priority, whether it was called back and the callback delay rounded
up to the minute. A cell holds the report's counters (calls, channels, decision kinds, reasons,
intents). The writes themselves only append signed *deltas* (``stats_call_deltas``): no two
transactions ever wait on one counter row. ``stats_compact()`` folds the deltas into the cells
(``snp stats compact``); a report reads cells and deltas together, so it is exact at any time.

- calls inserted or deleted: statement-level triggers add or remove their cells, set-based;
- calls updated in a column the report reads (decision masks, callback, time, territory...): a row
  trigger, skipped by its WHEN clause for any other update, moves the call to its new cell;
- a territory whose time zone or parent changes has its cells rebuilt, calls locked meanwhile;
- ``ix_stats_calls_delay`` finds the calls of one delay minute, so that the report's medians and
  p90 are read exactly: the cells say which minute holds the rank, the calls of that minute say
  which value it is.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from app.platform.migrate import sql_statements

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The counters of a cell, in this order, and the condition on a calls row ``x`` that adds it (decision
# and reason bits as in migration 0005): calls, channel_15, channel_116117, channel_urgences,
# channel_professionnel, channel_autre, advice, slot, prescription, other, other_no_answer,
# other_redirected_15, other_redirected_ed, other_other, several, without_decision, intent_urgences,
# avoided_declared. The callback delay bucket is the delay in minutes rounded up: a delay is ≤ N
# minutes exactly when its bucket is ≤ N. ``stats_compact()`` takes the advisory lock 70070007.

TABLES = """
CREATE TABLE stats_call_cells (
    territory_code varchar(40) NOT NULL, month date NOT NULL, priority varchar(2) NOT NULL,
    called_back boolean NOT NULL, delay_bucket integer NOT NULL,
    calls bigint NOT NULL,
    channel_15 bigint NOT NULL,
    channel_116117 bigint NOT NULL,
    channel_urgences bigint NOT NULL,
    channel_professionnel bigint NOT NULL,
    channel_autre bigint NOT NULL,
    advice bigint NOT NULL,
    slot bigint NOT NULL,
    prescription bigint NOT NULL,
    other bigint NOT NULL,
    other_no_answer bigint NOT NULL,
    other_redirected_15 bigint NOT NULL,
    other_redirected_ed bigint NOT NULL,
    other_other bigint NOT NULL,
    several bigint NOT NULL,
    without_decision bigint NOT NULL,
    intent_urgences bigint NOT NULL,
    avoided_declared bigint NOT NULL,
    CONSTRAINT pk_stats_call_cells PRIMARY KEY (territory_code, month, priority, called_back, delay_bucket)
);
CREATE TABLE stats_call_deltas (
    territory_code varchar(40) NOT NULL, month date NOT NULL, priority varchar(2) NOT NULL,
    called_back boolean NOT NULL, delay_bucket integer NOT NULL,
    calls bigint NOT NULL,
    channel_15 bigint NOT NULL,
    channel_116117 bigint NOT NULL,
    channel_urgences bigint NOT NULL,
    channel_professionnel bigint NOT NULL,
    channel_autre bigint NOT NULL,
    advice bigint NOT NULL,
    slot bigint NOT NULL,
    prescription bigint NOT NULL,
    other bigint NOT NULL,
    other_no_answer bigint NOT NULL,
    other_redirected_15 bigint NOT NULL,
    other_redirected_ed bigint NOT NULL,
    other_other bigint NOT NULL,
    several bigint NOT NULL,
    without_decision bigint NOT NULL,
    intent_urgences bigint NOT NULL,
    avoided_declared bigint NOT NULL
);
"""

FUNCTIONS = """
CREATE FUNCTION stats_calls_added_or_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO stats_call_deltas
SELECT x.territory_code,
       CAST(date_trunc('month', x.received_at AT TIME ZONE coalesce(p.timezone, t.timezone)) AS date),
       coalesce(x.priority, ''), x.first_callback_at IS NOT NULL,
       coalesce(CAST(ceil(EXTRACT(epoch FROM x.first_callback_at - x.received_at) / 60) AS integer), 0),
       sum(CASE WHEN true THEN x.s ELSE 0 END),
       sum(CASE WHEN x.channel = '15' THEN x.s ELSE 0 END),
       sum(CASE WHEN x.channel = '116117' THEN x.s ELSE 0 END),
       sum(CASE WHEN x.channel = 'urgences' THEN x.s ELSE 0 END),
       sum(CASE WHEN x.channel = 'professionnel' THEN x.s ELSE 0 END),
       sum(CASE WHEN x.channel = 'autre' THEN x.s ELSE 0 END),
       sum(CASE WHEN x.decision_kinds & 1 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.decision_kinds & 2 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.decision_kinds & 4 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.decision_kinds & 8 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.other_reasons & 1 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.other_reasons & 2 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.other_reasons & 4 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.other_reasons & 8 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.decision_kinds & (x.decision_kinds - 1) <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.decision_kinds = 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.intent_without_sas = 'urgences' THEN x.s ELSE 0 END),
       sum(CASE WHEN x.intent_without_sas = 'urgences' AND x.other_reasons & 6 = 0 THEN x.s ELSE 0 END)
FROM (SELECT added.*, 1 AS s FROM added) x
JOIN territories t ON t.code = x.territory_code
LEFT JOIN territories p ON p.code = t.parent_code
GROUP BY 1, 2, 3, 4, 5;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO stats_call_deltas
SELECT x.territory_code,
       CAST(date_trunc('month', x.received_at AT TIME ZONE coalesce(p.timezone, t.timezone)) AS date),
       coalesce(x.priority, ''), x.first_callback_at IS NOT NULL,
       coalesce(CAST(ceil(EXTRACT(epoch FROM x.first_callback_at - x.received_at) / 60) AS integer), 0),
       sum(CASE WHEN true THEN x.s ELSE 0 END),
       sum(CASE WHEN x.channel = '15' THEN x.s ELSE 0 END),
       sum(CASE WHEN x.channel = '116117' THEN x.s ELSE 0 END),
       sum(CASE WHEN x.channel = 'urgences' THEN x.s ELSE 0 END),
       sum(CASE WHEN x.channel = 'professionnel' THEN x.s ELSE 0 END),
       sum(CASE WHEN x.channel = 'autre' THEN x.s ELSE 0 END),
       sum(CASE WHEN x.decision_kinds & 1 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.decision_kinds & 2 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.decision_kinds & 4 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.decision_kinds & 8 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.other_reasons & 1 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.other_reasons & 2 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.other_reasons & 4 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.other_reasons & 8 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.decision_kinds & (x.decision_kinds - 1) <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.decision_kinds = 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.intent_without_sas = 'urgences' THEN x.s ELSE 0 END),
       sum(CASE WHEN x.intent_without_sas = 'urgences' AND x.other_reasons & 6 = 0 THEN x.s ELSE 0 END)
FROM (SELECT removed.*, -1 AS s FROM removed) x
JOIN territories t ON t.code = x.territory_code
LEFT JOIN territories p ON p.code = t.parent_code
GROUP BY 1, 2, 3, 4, 5;
    ELSE
        DELETE FROM stats_call_deltas;
        DELETE FROM stats_call_cells;
    END IF;
    RETURN NULL;
END $$;

-- One call moved: its old cell loses it, its new cell gains it (two rows, no grouping: the hot path of
-- every decision and callback).
CREATE FUNCTION stats_call_moved() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_zone text;
    new_zone text;
BEGIN
    SELECT coalesce(p.timezone, t.timezone) INTO old_zone
      FROM territories t LEFT JOIN territories p ON p.code = t.parent_code WHERE t.code = OLD.territory_code;
    IF NEW.territory_code = OLD.territory_code THEN
        new_zone := old_zone;
    ELSE
        SELECT coalesce(p.timezone, t.timezone) INTO new_zone
          FROM territories t LEFT JOIN territories p ON p.code = t.parent_code WHERE t.code = NEW.territory_code;
    END IF;
    INSERT INTO stats_call_deltas VALUES
        (OLD.territory_code, CAST(date_trunc('month', OLD.received_at AT TIME ZONE old_zone) AS date),
         coalesce(OLD.priority, ''), OLD.first_callback_at IS NOT NULL,
         coalesce(CAST(ceil(EXTRACT(epoch FROM OLD.first_callback_at - OLD.received_at) / 60) AS integer), 0),
        CASE WHEN true THEN -1 ELSE 0 END,
        CASE WHEN OLD.channel = '15' THEN -1 ELSE 0 END,
        CASE WHEN OLD.channel = '116117' THEN -1 ELSE 0 END,
        CASE WHEN OLD.channel = 'urgences' THEN -1 ELSE 0 END,
        CASE WHEN OLD.channel = 'professionnel' THEN -1 ELSE 0 END,
        CASE WHEN OLD.channel = 'autre' THEN -1 ELSE 0 END,
        CASE WHEN OLD.decision_kinds & 1 <> 0 THEN -1 ELSE 0 END,
        CASE WHEN OLD.decision_kinds & 2 <> 0 THEN -1 ELSE 0 END,
        CASE WHEN OLD.decision_kinds & 4 <> 0 THEN -1 ELSE 0 END,
        CASE WHEN OLD.decision_kinds & 8 <> 0 THEN -1 ELSE 0 END,
        CASE WHEN OLD.other_reasons & 1 <> 0 THEN -1 ELSE 0 END,
        CASE WHEN OLD.other_reasons & 2 <> 0 THEN -1 ELSE 0 END,
        CASE WHEN OLD.other_reasons & 4 <> 0 THEN -1 ELSE 0 END,
        CASE WHEN OLD.other_reasons & 8 <> 0 THEN -1 ELSE 0 END,
        CASE WHEN OLD.decision_kinds & (OLD.decision_kinds - 1) <> 0 THEN -1 ELSE 0 END,
        CASE WHEN OLD.decision_kinds = 0 THEN -1 ELSE 0 END,
        CASE WHEN OLD.intent_without_sas = 'urgences' THEN -1 ELSE 0 END,
        CASE WHEN OLD.intent_without_sas = 'urgences' AND OLD.other_reasons & 6 = 0 THEN -1 ELSE 0 END),
        (NEW.territory_code, CAST(date_trunc('month', NEW.received_at AT TIME ZONE new_zone) AS date),
         coalesce(NEW.priority, ''), NEW.first_callback_at IS NOT NULL,
         coalesce(CAST(ceil(EXTRACT(epoch FROM NEW.first_callback_at - NEW.received_at) / 60) AS integer), 0),
        CASE WHEN true THEN 1 ELSE 0 END,
        CASE WHEN NEW.channel = '15' THEN 1 ELSE 0 END,
        CASE WHEN NEW.channel = '116117' THEN 1 ELSE 0 END,
        CASE WHEN NEW.channel = 'urgences' THEN 1 ELSE 0 END,
        CASE WHEN NEW.channel = 'professionnel' THEN 1 ELSE 0 END,
        CASE WHEN NEW.channel = 'autre' THEN 1 ELSE 0 END,
        CASE WHEN NEW.decision_kinds & 1 <> 0 THEN 1 ELSE 0 END,
        CASE WHEN NEW.decision_kinds & 2 <> 0 THEN 1 ELSE 0 END,
        CASE WHEN NEW.decision_kinds & 4 <> 0 THEN 1 ELSE 0 END,
        CASE WHEN NEW.decision_kinds & 8 <> 0 THEN 1 ELSE 0 END,
        CASE WHEN NEW.other_reasons & 1 <> 0 THEN 1 ELSE 0 END,
        CASE WHEN NEW.other_reasons & 2 <> 0 THEN 1 ELSE 0 END,
        CASE WHEN NEW.other_reasons & 4 <> 0 THEN 1 ELSE 0 END,
        CASE WHEN NEW.other_reasons & 8 <> 0 THEN 1 ELSE 0 END,
        CASE WHEN NEW.decision_kinds & (NEW.decision_kinds - 1) <> 0 THEN 1 ELSE 0 END,
        CASE WHEN NEW.decision_kinds = 0 THEN 1 ELSE 0 END,
        CASE WHEN NEW.intent_without_sas = 'urgences' THEN 1 ELSE 0 END,
        CASE WHEN NEW.intent_without_sas = 'urgences' AND NEW.other_reasons & 6 = 0 THEN 1 ELSE 0 END);
    RETURN NULL;
END $$;

-- Cells of these territories computed afresh from their calls, which no one writes meanwhile.
CREATE FUNCTION stats_rebuild_cells(codes text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE calls IN SHARE MODE;
    DELETE FROM stats_call_deltas WHERE territory_code = ANY(codes);
    DELETE FROM stats_call_cells WHERE territory_code = ANY(codes);
    INSERT INTO stats_call_deltas
SELECT x.territory_code,
       CAST(date_trunc('month', x.received_at AT TIME ZONE coalesce(p.timezone, t.timezone)) AS date),
       coalesce(x.priority, ''), x.first_callback_at IS NOT NULL,
       coalesce(CAST(ceil(EXTRACT(epoch FROM x.first_callback_at - x.received_at) / 60) AS integer), 0),
       sum(CASE WHEN true THEN x.s ELSE 0 END),
       sum(CASE WHEN x.channel = '15' THEN x.s ELSE 0 END),
       sum(CASE WHEN x.channel = '116117' THEN x.s ELSE 0 END),
       sum(CASE WHEN x.channel = 'urgences' THEN x.s ELSE 0 END),
       sum(CASE WHEN x.channel = 'professionnel' THEN x.s ELSE 0 END),
       sum(CASE WHEN x.channel = 'autre' THEN x.s ELSE 0 END),
       sum(CASE WHEN x.decision_kinds & 1 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.decision_kinds & 2 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.decision_kinds & 4 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.decision_kinds & 8 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.other_reasons & 1 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.other_reasons & 2 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.other_reasons & 4 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.other_reasons & 8 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.decision_kinds & (x.decision_kinds - 1) <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.decision_kinds = 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.intent_without_sas = 'urgences' THEN x.s ELSE 0 END),
       sum(CASE WHEN x.intent_without_sas = 'urgences' AND x.other_reasons & 6 = 0 THEN x.s ELSE 0 END)
FROM (SELECT c.*, 1 AS s FROM calls c WHERE c.territory_code = ANY(codes)) x
JOIN territories t ON t.code = x.territory_code
LEFT JOIN territories p ON p.code = t.parent_code
GROUP BY 1, 2, 3, 4, 5;
END $$;

CREATE FUNCTION stats_territory_moved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM stats_rebuild_cells(ARRAY(SELECT code FROM territories WHERE code = NEW.code OR parent_code = NEW.code));
    RETURN NULL;
END $$;

-- Fold the deltas into the cells; returns how many deltas were folded. One folding at a time (a
-- second one finds the lock taken and folds nothing), so two never wait on each other's cells.
CREATE FUNCTION stats_compact() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(70070007) THEN
        RETURN 0;
    END IF;
    WITH moved AS (
        DELETE FROM stats_call_deltas RETURNING *
    ), cells AS (
        INSERT INTO stats_call_cells
        SELECT territory_code, month, priority, called_back, delay_bucket, 
           sum(calls),
           sum(channel_15),
           sum(channel_116117),
           sum(channel_urgences),
           sum(channel_professionnel),
           sum(channel_autre),
           sum(advice),
           sum(slot),
           sum(prescription),
           sum(other),
           sum(other_no_answer),
           sum(other_redirected_15),
           sum(other_redirected_ed),
           sum(other_other),
           sum(several),
           sum(without_decision),
           sum(intent_urgences),
           sum(avoided_declared)
        FROM moved GROUP BY territory_code, month, priority, called_back, delay_bucket
        ON CONFLICT (territory_code, month, priority, called_back, delay_bucket) DO UPDATE SET 
            calls = stats_call_cells.calls + excluded.calls,
            channel_15 = stats_call_cells.channel_15 + excluded.channel_15,
            channel_116117 = stats_call_cells.channel_116117 + excluded.channel_116117,
            channel_urgences = stats_call_cells.channel_urgences + excluded.channel_urgences,
            channel_professionnel = stats_call_cells.channel_professionnel + excluded.channel_professionnel,
            channel_autre = stats_call_cells.channel_autre + excluded.channel_autre,
            advice = stats_call_cells.advice + excluded.advice,
            slot = stats_call_cells.slot + excluded.slot,
            prescription = stats_call_cells.prescription + excluded.prescription,
            other = stats_call_cells.other + excluded.other,
            other_no_answer = stats_call_cells.other_no_answer + excluded.other_no_answer,
            other_redirected_15 = stats_call_cells.other_redirected_15 + excluded.other_redirected_15,
            other_redirected_ed = stats_call_cells.other_redirected_ed + excluded.other_redirected_ed,
            other_other = stats_call_cells.other_other + excluded.other_other,
            several = stats_call_cells.several + excluded.several,
            without_decision = stats_call_cells.without_decision + excluded.without_decision,
            intent_urgences = stats_call_cells.intent_urgences + excluded.intent_urgences,
            avoided_declared = stats_call_cells.avoided_declared + excluded.avoided_declared
    )
    SELECT count(*) INTO folded FROM moved;
    RETURN folded;
END $$;
"""

TRIGGERS = """
CREATE TRIGGER stats_calls_inserted AFTER INSERT ON calls
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION stats_calls_added_or_removed();
CREATE TRIGGER stats_calls_deleted AFTER DELETE ON calls
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION stats_calls_added_or_removed();
CREATE TRIGGER stats_calls_truncated AFTER TRUNCATE ON calls
    FOR EACH STATEMENT EXECUTE FUNCTION stats_calls_added_or_removed();
CREATE TRIGGER stats_call_updated AFTER UPDATE ON calls FOR EACH ROW
    WHEN (OLD.territory_code IS DISTINCT FROM NEW.territory_code
          OR OLD.received_at IS DISTINCT FROM NEW.received_at
          OR OLD.priority IS DISTINCT FROM NEW.priority
          OR OLD.first_callback_at IS DISTINCT FROM NEW.first_callback_at
          OR OLD.channel IS DISTINCT FROM NEW.channel
          OR OLD.decision_kinds IS DISTINCT FROM NEW.decision_kinds
          OR OLD.other_reasons IS DISTINCT FROM NEW.other_reasons
          OR OLD.intent_without_sas IS DISTINCT FROM NEW.intent_without_sas)
    EXECUTE FUNCTION stats_call_moved();
CREATE TRIGGER stats_territory_moved AFTER UPDATE OF timezone, parent_code ON territories FOR EACH ROW
    WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone OR OLD.parent_code IS DISTINCT FROM NEW.parent_code)
    EXECUTE FUNCTION stats_territory_moved();
"""

BACKFILL = """INSERT INTO stats_call_deltas
SELECT x.territory_code,
       CAST(date_trunc('month', x.received_at AT TIME ZONE coalesce(p.timezone, t.timezone)) AS date),
       coalesce(x.priority, ''), x.first_callback_at IS NOT NULL,
       coalesce(CAST(ceil(EXTRACT(epoch FROM x.first_callback_at - x.received_at) / 60) AS integer), 0),
       sum(CASE WHEN true THEN x.s ELSE 0 END),
       sum(CASE WHEN x.channel = '15' THEN x.s ELSE 0 END),
       sum(CASE WHEN x.channel = '116117' THEN x.s ELSE 0 END),
       sum(CASE WHEN x.channel = 'urgences' THEN x.s ELSE 0 END),
       sum(CASE WHEN x.channel = 'professionnel' THEN x.s ELSE 0 END),
       sum(CASE WHEN x.channel = 'autre' THEN x.s ELSE 0 END),
       sum(CASE WHEN x.decision_kinds & 1 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.decision_kinds & 2 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.decision_kinds & 4 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.decision_kinds & 8 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.other_reasons & 1 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.other_reasons & 2 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.other_reasons & 4 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.other_reasons & 8 <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.decision_kinds & (x.decision_kinds - 1) <> 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.decision_kinds = 0 THEN x.s ELSE 0 END),
       sum(CASE WHEN x.intent_without_sas = 'urgences' THEN x.s ELSE 0 END),
       sum(CASE WHEN x.intent_without_sas = 'urgences' AND x.other_reasons & 6 = 0 THEN x.s ELSE 0 END)
FROM (SELECT c.*, 1 AS s FROM calls c) x
JOIN territories t ON t.code = x.territory_code
LEFT JOIN territories p ON p.code = t.parent_code
GROUP BY 1, 2, 3, 4, 5"""

INDEX = """
CREATE INDEX ix_stats_calls_delay
    ON calls (CAST(ceil(EXTRACT(epoch FROM calls.first_callback_at - calls.received_at) / 60) AS integer), received_at)
    INCLUDE (territory_code, first_callback_at) WHERE first_callback_at IS NOT NULL
"""

DROP = """
DROP INDEX IF EXISTS ix_stats_calls_delay;
DROP TRIGGER IF EXISTS stats_territory_moved ON territories;
DROP TRIGGER IF EXISTS stats_call_updated ON calls;
DROP TRIGGER IF EXISTS stats_calls_truncated ON calls;
DROP TRIGGER IF EXISTS stats_calls_deleted ON calls;
DROP TRIGGER IF EXISTS stats_calls_inserted ON calls;
DROP FUNCTION IF EXISTS stats_compact();
DROP FUNCTION IF EXISTS stats_territory_moved();
DROP FUNCTION IF EXISTS stats_rebuild_cells(text[]);
DROP FUNCTION IF EXISTS stats_call_moved();
DROP FUNCTION IF EXISTS stats_calls_added_or_removed();
DROP TABLE IF EXISTS stats_call_deltas;
DROP TABLE IF EXISTS stats_call_cells;
"""


def upgrade() -> None:
    for statement in sql_statements(TABLES + FUNCTIONS):
        op.execute(statement)
    # No call may be written between the backfill and the triggers taking over.
    op.execute("LOCK TABLE calls IN SHARE MODE")
    op.execute(BACKFILL)
    for statement in sql_statements(TRIGGERS):
        op.execute(statement)
    op.execute("SELECT stats_compact()")
    op.execute(INDEX)


def downgrade() -> None:
    for statement in sql_statements(DROP):
        op.execute(statement)
