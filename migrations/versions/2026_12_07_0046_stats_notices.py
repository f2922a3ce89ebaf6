"""stats: the messages told to patients count in the monthly report (by their booking's slot), so their late writes
change the reports kept (migration 0039's ``stats_changes``): a message written or its state changed touches its
booking's slot's territory and month.

Revision ID: 0046
Revises: 0045
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from app.platform.migrate import sql_statements

revision: str = "0046"
down_revision: str | None = "0045"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
CREATE FUNCTION stats_notice_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM stats_touch(s.territory_code, s.start_at)
    FROM bookings b JOIN slots s ON s.id = b.slot_id
    WHERE b.id = CASE WHEN TG_OP = 'DELETE' THEN OLD.booking_id ELSE NEW.booking_id END;
    RETURN NULL;
END $$;

CREATE TRIGGER notices_stats_written AFTER INSERT OR DELETE ON notices FOR EACH ROW
    EXECUTE FUNCTION stats_notice_written();
CREATE TRIGGER notices_stats_updated AFTER UPDATE ON notices FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.kind IS DISTINCT FROM NEW.kind
          OR OLD.channel IS DISTINCT FROM NEW.channel OR OLD.booking_id IS DISTINCT FROM NEW.booking_id)
    EXECUTE FUNCTION stats_notice_written();
CREATE TRIGGER notices_stats_emptied AFTER TRUNCATE ON notices
    FOR EACH STATEMENT EXECUTE FUNCTION stats_everything_changed();
"""

DOWNGRADE = """
DROP TRIGGER notices_stats_emptied ON notices;
DROP TRIGGER notices_stats_updated ON notices;
DROP TRIGGER notices_stats_written ON notices;
DROP FUNCTION stats_notice_written();
"""


def upgrade() -> None:
    for statement in sql_statements(UPGRADE):
        op.execute(statement)


def downgrade() -> None:
    for statement in sql_statements(DOWNGRADE):
        op.execute(statement)
