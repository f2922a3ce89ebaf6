"""stats: the patients without a médecin traitant count in the monthly report, and their late writes change the
reports kept (migration 0039's ``stats_changes``).

A request counts in the months of its reception, acceptance, finding and closing, and is *waiting* at the end of
every month from its reception to its end: a write to a request touches every month from its reception to its
end (or now), in its territory; a refusal touches its own month; a doctor's offer (the doctors accepting new
patients now) changes every report.

Revision ID: 0042
Revises: 0041
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from app.platform.migrate import sql_statements

revision: str = "0042"
down_revision: str | None = "0041"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
CREATE FUNCTION stats_touch_span(code text, first timestamptz, last timestamptz) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF first IS NULL OR first >= stats_closed_before() THEN
        RETURN;
    END IF;
    PERFORM stats_touch(code, m) FROM generate_series(first, least(last, now()), interval '1 month') AS m;
    PERFORM stats_touch(code, least(last, now()));
END $$;

CREATE FUNCTION stats_mt_request_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM stats_touch_span(OLD.territory_code, OLD.created_at, coalesce(OLD.ended_at, now()));
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM stats_touch_span(NEW.territory_code, NEW.created_at, coalesce(NEW.ended_at, now()));
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION stats_mt_proposal_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM stats_touch(r.territory_code, OLD.answered_at) FROM mt_requests r WHERE r.id = OLD.request_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM stats_touch(r.territory_code, NEW.answered_at) FROM mt_requests r WHERE r.id = NEW.request_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER mt_requests_stats_written AFTER INSERT OR DELETE ON mt_requests FOR EACH ROW
    EXECUTE FUNCTION stats_mt_request_written();
CREATE TRIGGER mt_requests_stats_updated AFTER UPDATE ON mt_requests FOR EACH ROW
    WHEN (OLD.territory_code IS DISTINCT FROM NEW.territory_code OR OLD.source IS DISTINCT FROM NEW.source
          OR OLD.state IS DISTINCT FROM NEW.state OR OLD.closed_reason IS DISTINCT FROM NEW.closed_reason
          OR OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.accepted_at IS DISTINCT FROM NEW.accepted_at
          OR OLD.found_at IS DISTINCT FROM NEW.found_at OR OLD.closed_at IS DISTINCT FROM NEW.closed_at
          OR OLD.ended_at IS DISTINCT FROM NEW.ended_at)
    EXECUTE FUNCTION stats_mt_request_written();
CREATE TRIGGER mt_proposals_stats_written AFTER INSERT OR UPDATE OR DELETE ON mt_proposals FOR EACH ROW
    EXECUTE FUNCTION stats_mt_proposal_written();
CREATE TRIGGER mt_offers_stats_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mt_offers
    FOR EACH STATEMENT EXECUTE FUNCTION stats_everything_changed();
CREATE TRIGGER mt_requests_stats_emptied AFTER TRUNCATE ON mt_requests
    FOR EACH STATEMENT EXECUTE FUNCTION stats_everything_changed();
"""

DOWNGRADE = """
DROP TRIGGER mt_requests_stats_emptied ON mt_requests;
DROP TRIGGER mt_offers_stats_changed ON mt_offers;
DROP TRIGGER mt_proposals_stats_written ON mt_proposals;
DROP TRIGGER mt_requests_stats_updated ON mt_requests;
DROP TRIGGER mt_requests_stats_written ON mt_requests;
DROP FUNCTION stats_mt_proposal_written();
DROP FUNCTION stats_mt_request_written();
DROP FUNCTION stats_touch_span(text, timestamptz, timestamptz);
"""


def upgrade() -> None:
    for statement in sql_statements(UPGRADE):
        op.execute(statement)


def downgrade() -> None:
    for statement in sql_statements(DOWNGRADE):
        op.execute(statement)
