"""stats: every late write appends the (territory, month) it changes, so that each process may keep the
reports of closed months and know exactly when one is no longer true.

A report of months that have ended is kept by the process that computed it, with the highest change
number of its territories and months at the time (``stats_changes``); a later read compares that number
with the current one and computes the report again only when a write since has touched one of them.

- Which writes: any row of ``calls`` (by ``received_at``), ``slots`` (by ``start_at``) or ``bookings``
  (by its slot's ``start_at``) inserted, updated or deleted whose time lies before
  ``stats_closed_before()`` — the start of the current UTC month plus 14 hours (plus the month ahead in its
  last 14 hours): every instant of a month that has ended in some French time zone (UTC−10 to UTC+12) is
  before it, and the writes of the current month, the most frequent, are not counted. A row counts in the
  UTC months of its time ±14 hours, which hold its local month whatever its territory's zone.
- Writes that change every report (a site moved, the postcodes reloaded, a table emptied) append the
  territory ``''``, which every report reads.
- Appended only, never updated: no two transactions ever wait on one row (like the rollup's deltas);
  the rollup's folding (``stats_compact``) also drops the rows a later one of the same key supersedes.
- The change number comes from a sequence of its own, never reset with the tables.

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from app.platform.migrate import sql_statements

revision: str = "0039"
down_revision: str | None = "0038"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
CREATE SEQUENCE stats_changes_seq;
CREATE TABLE stats_changes (
    territory_code varchar(40) NOT NULL,
    month date NOT NULL,
    changed bigint NOT NULL DEFAULT nextval('stats_changes_seq'),
    CONSTRAINT pk_stats_changes PRIMARY KEY (changed)
);
CREATE INDEX ix_stats_changes_key ON stats_changes (territory_code, month, changed);

CREATE FUNCTION stats_closed_before() RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT (date_trunc('month', (now() AT TIME ZONE 'UTC') + interval '14 hours') + interval '14 hours')
           AT TIME ZONE 'UTC'
$$;

CREATE FUNCTION stats_touch(code text, at timestamptz) RETURNS void LANGUAGE sql AS $$
    INSERT INTO stats_changes (territory_code, month)
    SELECT DISTINCT code, CAST(date_trunc('month', (at AT TIME ZONE 'UTC') + d) AS date)
    FROM unnest(ARRAY[interval '-14 hours', interval '14 hours']) AS d
    WHERE code IS NOT NULL AND at IS NOT NULL AND at < stats_closed_before()
$$;

CREATE FUNCTION stats_calls_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM stats_touch(r.territory_code, r.received_at)
    FROM (SELECT DISTINCT territory_code, received_at FROM written WHERE received_at < stats_closed_before()) r;
    RETURN NULL;
END $$;

CREATE FUNCTION stats_slots_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM stats_touch(r.territory_code, r.start_at)
    FROM (SELECT DISTINCT territory_code, start_at FROM written WHERE start_at < stats_closed_before()) r;
    RETURN NULL;
END $$;

CREATE FUNCTION stats_call_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM stats_touch(OLD.territory_code, OLD.received_at);
    PERFORM stats_touch(NEW.territory_code, NEW.received_at);
    RETURN NULL;
END $$;

CREATE FUNCTION stats_slot_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM stats_touch(OLD.territory_code, OLD.start_at);
    PERFORM stats_touch(NEW.territory_code, NEW.start_at);
    RETURN NULL;
END $$;

CREATE FUNCTION stats_booking_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM stats_touch(s.territory_code, s.start_at) FROM slots s WHERE s.id = OLD.slot_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM stats_touch(s.territory_code, s.start_at) FROM slots s WHERE s.id = NEW.slot_id;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION stats_everything_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stats_changes (territory_code, month) VALUES ('', DATE '0001-01-01');
    RETURN NULL;
END $$;

CREATE TRIGGER calls_stats_inserted AFTER INSERT ON calls REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION stats_calls_written();
CREATE TRIGGER calls_stats_deleted AFTER DELETE ON calls REFERENCING OLD TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION stats_calls_written();
CREATE TRIGGER calls_stats_updated AFTER UPDATE ON calls FOR EACH ROW
    WHEN (OLD.received_at < stats_closed_before() OR NEW.received_at < stats_closed_before())
    EXECUTE FUNCTION stats_call_updated();

CREATE TRIGGER slots_stats_inserted AFTER INSERT ON slots REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION stats_slots_written();
CREATE TRIGGER slots_stats_deleted AFTER DELETE ON slots REFERENCING OLD TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION stats_slots_written();
CREATE TRIGGER slots_stats_updated AFTER UPDATE ON slots FOR EACH ROW
    WHEN (OLD.start_at < stats_closed_before() OR NEW.start_at < stats_closed_before())
    EXECUTE FUNCTION stats_slot_updated();

CREATE TRIGGER bookings_stats_inserted AFTER INSERT OR DELETE ON bookings FOR EACH ROW
    EXECUTE FUNCTION stats_booking_written();
CREATE TRIGGER bookings_stats_updated AFTER UPDATE ON bookings FOR EACH ROW
    WHEN (OLD.outcome IS DISTINCT FROM NEW.outcome OR OLD.status IS DISTINCT FROM NEW.status
          OR OLD.slot_id IS DISTINCT FROM NEW.slot_id)
    EXECUTE FUNCTION stats_booking_written();

CREATE TRIGGER sites_stats_moved AFTER UPDATE OF lat, lon ON sites
    FOR EACH STATEMENT EXECUTE FUNCTION stats_everything_changed();
CREATE TRIGGER postcodes_stats_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON postcodes
    FOR EACH STATEMENT EXECUTE FUNCTION stats_everything_changed();
CREATE TRIGGER calls_stats_emptied AFTER TRUNCATE ON calls
    FOR EACH STATEMENT EXECUTE FUNCTION stats_everything_changed();
CREATE TRIGGER slots_stats_emptied AFTER TRUNCATE ON slots
    FOR EACH STATEMENT EXECUTE FUNCTION stats_everything_changed();
CREATE TRIGGER bookings_stats_emptied AFTER TRUNCATE ON bookings
    FOR EACH STATEMENT EXECUTE FUNCTION stats_everything_changed();
"""

DOWNGRADE = """
DROP TRIGGER bookings_stats_emptied ON bookings;
DROP TRIGGER slots_stats_emptied ON slots;
DROP TRIGGER calls_stats_emptied ON calls;
DROP TRIGGER postcodes_stats_changed ON postcodes;
DROP TRIGGER sites_stats_moved ON sites;
DROP TRIGGER bookings_stats_updated ON bookings;
DROP TRIGGER bookings_stats_inserted ON bookings;
DROP TRIGGER slots_stats_updated ON slots;
DROP TRIGGER slots_stats_deleted ON slots;
DROP TRIGGER slots_stats_inserted ON slots;
DROP TRIGGER calls_stats_updated ON calls;
DROP TRIGGER calls_stats_deleted ON calls;
DROP TRIGGER calls_stats_inserted ON calls;
DROP FUNCTION stats_everything_changed();
DROP FUNCTION stats_booking_written();
DROP FUNCTION stats_slot_updated();
DROP FUNCTION stats_call_updated();
DROP FUNCTION stats_slots_written();
DROP FUNCTION stats_calls_written();
DROP FUNCTION stats_touch(text, timestamptz);
DROP FUNCTION stats_closed_before();
DROP TABLE stats_changes;
DROP SEQUENCE stats_changes_seq;
"""


def upgrade() -> None:
    for statement in sql_statements(UPGRADE):
        op.execute(statement)


def downgrade() -> None:
    for statement in sql_statements(DOWNGRADE):
        op.execute(statement)
