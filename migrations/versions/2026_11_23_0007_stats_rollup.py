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

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# counter → condition on a calls row ``x`` (bits as in migration 0005)
COUNTERS = {
    "calls": "true",
    "channel_15": "x.channel = '15'",
    "channel_116117": "x.channel = '116117'",
    "channel_urgences": "x.channel = 'urgences'",
    "channel_professionnel": "x.channel = 'professionnel'",
    "channel_autre": "x.channel = 'autre'",
    "advice": "x.decision_kinds & 1 <> 0",
    "slot": "x.decision_kinds & 2 <> 0",
    "prescription": "x.decision_kinds & 4 <> 0",
    "other": "x.decision_kinds & 8 <> 0",
    "other_no_answer": "x.other_reasons & 1 <> 0",
    "other_redirected_15": "x.other_reasons & 2 <> 0",
    "other_redirected_ed": "x.other_reasons & 4 <> 0",
    "other_other": "x.other_reasons & 8 <> 0",
    "several": "x.decision_kinds & (x.decision_kinds - 1) <> 0",
    "without_decision": "x.decision_kinds = 0",
    "intent_urgences": "x.intent_without_sas = 'urgences'",
    "avoided_declared": "x.intent_without_sas = 'urgences' AND x.other_reasons & 6 = 0",
}
KEY = "territory_code, month, priority, called_back, delay_bucket"
COMPACT_LOCK = 70070007  # advisory lock key of stats_compact()
# The callback delay in minutes, rounded up: a delay is ≤ N minutes exactly when its bucket is ≤ N.
BUCKET = "CAST(ceil(EXTRACT(epoch FROM {c}.first_callback_at - {c}.received_at) / 60) AS integer)"
# Columns of calls whose change moves a call to another cell (or changes its counters).
READ_COLUMNS = ("territory_code", "received_at", "priority", "first_callback_at", "channel", "decision_kinds",
                "other_reasons", "intent_without_sas")


def cells_of(rows: str) -> str:
    """The signed cell contributions of ``rows`` (calls columns plus a sign ``s``), one row a cell."""
    sums = ",\n       ".join(f"sum(CASE WHEN {cond} THEN x.s ELSE 0 END)" for cond in COUNTERS.values())
    return f"""
SELECT x.territory_code,
       CAST(date_trunc('month', x.received_at AT TIME ZONE coalesce(p.timezone, t.timezone)) AS date),
       coalesce(x.priority, ''), x.first_callback_at IS NOT NULL,
       coalesce({BUCKET.format(c="x")}, 0),
       {sums}
FROM {rows} x
JOIN territories t ON t.code = x.territory_code
LEFT JOIN territories p ON p.code = t.parent_code
GROUP BY 1, 2, 3, 4, 5"""


def _cell_row(row: str, zone: str, sign: str) -> str:
    """The cell of one trigger row (``OLD`` or ``NEW``) as a VALUES row, counting ``sign``."""
    counters = ", ".join(f"CASE WHEN {cond.replace('x.', f'{row}.')} THEN {sign} ELSE 0 END"
                         for cond in COUNTERS.values())
    return (f"({row}.territory_code, CAST(date_trunc('month', {row}.received_at AT TIME ZONE {zone}) AS date), "
            f"coalesce({row}.priority, ''), {row}.first_callback_at IS NOT NULL, "
            f"coalesce({BUCKET.format(c=row)}, 0), {counters})")


COLUMNS = ", ".join(f"{name} bigint NOT NULL" for name in COUNTERS)
TABLES = f"""
CREATE TABLE stats_call_cells (
    territory_code varchar(40) NOT NULL, month date NOT NULL, priority varchar(2) NOT NULL,
    called_back boolean NOT NULL, delay_bucket integer NOT NULL, {COLUMNS},
    CONSTRAINT pk_stats_call_cells PRIMARY KEY ({KEY})
);
CREATE TABLE stats_call_deltas (
    territory_code varchar(40) NOT NULL, month date NOT NULL, priority varchar(2) NOT NULL,
    called_back boolean NOT NULL, delay_bucket integer NOT NULL, {COLUMNS}
);
"""

_SET = ", ".join(f"{n} = stats_call_cells.{n} + excluded.{n}" for n in COUNTERS)
_SUMS = ", ".join(f"sum({n})" for n in COUNTERS)
_CHANGED = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in READ_COLUMNS)

FUNCTIONS = f"""
CREATE FUNCTION stats_calls_added_or_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO stats_call_deltas {cells_of("(SELECT added.*, 1 AS s FROM added)")};
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO stats_call_deltas {cells_of("(SELECT removed.*, -1 AS s FROM removed)")};
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
    INSERT INTO stats_call_deltas VALUES {_cell_row("OLD", "old_zone", "-1")}, {_cell_row("NEW", "new_zone", "1")};
    RETURN NULL;
END $$;

-- Cells of these territories computed afresh from their calls, which no one writes meanwhile.
CREATE FUNCTION stats_rebuild_cells(codes text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE calls IN SHARE MODE;
    DELETE FROM stats_call_deltas WHERE territory_code = ANY(codes);
    DELETE FROM stats_call_cells WHERE territory_code = ANY(codes);
    INSERT INTO stats_call_deltas {cells_of("(SELECT c.*, 1 AS s FROM calls c WHERE c.territory_code = ANY(codes))")};
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
    IF NOT pg_try_advisory_xact_lock({COMPACT_LOCK}) THEN
        RETURN 0;
    END IF;
    WITH moved AS (
        DELETE FROM stats_call_deltas RETURNING *
    ), cells AS (
        INSERT INTO stats_call_cells
        SELECT {KEY}, {_SUMS} FROM moved GROUP BY {KEY}
        ON CONFLICT ({KEY}) DO UPDATE SET {_SET}
    )
    SELECT count(*) INTO folded FROM moved;
    RETURN folded;
END $$;
"""

TRIGGERS = f"""
CREATE TRIGGER stats_calls_inserted AFTER INSERT ON calls
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION stats_calls_added_or_removed();
CREATE TRIGGER stats_calls_deleted AFTER DELETE ON calls
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION stats_calls_added_or_removed();
CREATE TRIGGER stats_calls_truncated AFTER TRUNCATE ON calls
    FOR EACH STATEMENT EXECUTE FUNCTION stats_calls_added_or_removed();
CREATE TRIGGER stats_call_updated AFTER UPDATE ON calls FOR EACH ROW
    WHEN ({_CHANGED}) EXECUTE FUNCTION stats_call_moved();
CREATE TRIGGER stats_territory_moved AFTER UPDATE OF timezone, parent_code ON territories FOR EACH ROW
    WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone OR OLD.parent_code IS DISTINCT FROM NEW.parent_code)
    EXECUTE FUNCTION stats_territory_moved();
"""

BACKFILL = f"INSERT INTO stats_call_deltas {cells_of('(SELECT c.*, 1 AS s FROM calls c)')}"

INDEX = f"""
CREATE INDEX ix_stats_calls_delay ON calls ({BUCKET.format(c="calls")}, received_at)
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
    for statement in _statements(TABLES + FUNCTIONS):
        op.execute(statement)
    # No call may be written between the backfill and the triggers taking over.
    op.execute("LOCK TABLE calls IN SHARE MODE")
    op.execute(BACKFILL)
    for statement in _statements(TRIGGERS):
        op.execute(statement)
    op.execute("SELECT stats_compact()")
    op.execute(INDEX)


def downgrade() -> None:
    for statement in _statements(DROP):
        op.execute(statement)


def _statements(script: str) -> list[str]:
    """The script's statements; a ``$$`` body holds semicolons of its own."""
    statements, current, in_body = [], [], False
    for line in script.splitlines():
        if line.strip().startswith("--") and not in_body:
            continue
        current.append(line)
        in_body ^= line.count("$$") % 2 == 1
        if not in_body and line.rstrip().endswith(";"):
            statements.append("\n".join(current).strip())
            current = []
    if "".join(current).strip():
        statements.append("\n".join(current).strip())
    return [s for s in statements if s]
