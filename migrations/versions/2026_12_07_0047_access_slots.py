"""access consultations: a slot's kind (snp, or access: a long visit for a patient without a médecin traitant,
booked by the coordinator, never an SNP slot), and the access consultation booked for an MT request.

Revision ID: 0047
Revises: 0046
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0047"
down_revision: str | None = "0046"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = postgresql.TIMESTAMP(timezone=True)


def upgrade() -> None:
    # A constant default: PostgreSQL adds the column without rewriting the slots.
    op.add_column("slots", sa.Column("kind", sa.String(length=8), server_default=sa.text("'snp'"), nullable=False))
    op.create_check_constraint(op.f("ck_slots_kind"), "slots", "kind IN ('snp', 'access')")
    op.add_column("mt_requests", sa.Column("access_slot_id", sa.Uuid(), nullable=True))
    op.add_column("mt_requests", sa.Column("access_booked_at", TZ, nullable=True))
    op.add_column("mt_requests", sa.Column("access_booked_by", sa.String(length=200), nullable=True))
    op.create_foreign_key(op.f("fk_mt_requests_access_slot_id_slots"), "mt_requests", "slots", ["access_slot_id"],
                          ["id"])
    op.create_index("uq_mt_requests_access_slot", "mt_requests", ["access_slot_id"], unique=True,
                    postgresql_where=sa.text("access_slot_id IS NOT NULL"))
    # The report counts access consultations by their slot's month: a request's access slot set or changed touches
    # it (the kept reports, migration 0039).
    op.execute("""CREATE FUNCTION stats_mt_access_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM stats_touch(s.territory_code, s.start_at) FROM slots s WHERE s.id IN (OLD.access_slot_id, NEW.access_slot_id);
    RETURN NULL;
END $$""")
    op.execute("CREATE TRIGGER mt_requests_stats_access AFTER UPDATE ON mt_requests FOR EACH ROW "
               "WHEN (OLD.access_slot_id IS DISTINCT FROM NEW.access_slot_id) EXECUTE FUNCTION stats_mt_access_written()")


def downgrade() -> None:
    op.execute("DROP TRIGGER mt_requests_stats_access ON mt_requests")
    op.execute("DROP FUNCTION stats_mt_access_written()")
    op.drop_index("uq_mt_requests_access_slot", table_name="mt_requests",
                  postgresql_where=sa.text("access_slot_id IS NOT NULL"))
    op.drop_constraint(op.f("fk_mt_requests_access_slot_id_slots"), "mt_requests", type_="foreignkey")
    op.drop_column("mt_requests", "access_booked_by")
    op.drop_column("mt_requests", "access_booked_at")
    op.drop_column("mt_requests", "access_slot_id")
    op.drop_constraint(op.f("ck_slots_kind"), "slots", type_="check")
    op.drop_column("slots", "kind")
