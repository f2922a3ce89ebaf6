"""live calls: every change a regulator must see at once is announced on ``snp_calls``.

A row trigger on ``calls`` notifies a call entered live (``call.created``) and a change of its
status or of who has it (``call.updated``), in the transaction that makes it (delivered at commit),
whatever code writes it. Imported calls (``source = 'import'``) are history: they announce nothing.
The payload names the call, its territory, status, priority, due time and who has it; never the
patient. The console's live stream (``GET /v1/stream``) relays it to the territory.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = """
CREATE FUNCTION calls_announce() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('snp_calls', json_build_object(
        'event', CASE TG_OP WHEN 'INSERT' THEN 'call.created' ELSE 'call.updated' END,
        'call_id', NEW.id, 'territory_code', NEW.territory_code, 'status', NEW.status,
        'assigned_to', NEW.assigned_to, 'priority', NEW.priority, 'due_at', NEW.due_at)::text);
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.execute(FUNCTION)
    op.execute("""CREATE TRIGGER calls_announce_created AFTER INSERT ON calls FOR EACH ROW
                  WHEN (NEW.source = 'live') EXECUTE FUNCTION calls_announce()""")
    op.execute("""CREATE TRIGGER calls_announce_updated AFTER UPDATE OF status, assigned_to ON calls FOR EACH ROW
                  WHEN (NEW.source = 'live' AND (OLD.status IS DISTINCT FROM NEW.status
                                                 OR OLD.assigned_to IS DISTINCT FROM NEW.assigned_to))
                  EXECUTE FUNCTION calls_announce()""")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS calls_announce_updated ON calls")
    op.execute("DROP TRIGGER IF EXISTS calls_announce_created ON calls")
    op.execute("DROP FUNCTION IF EXISTS calls_announce()")
