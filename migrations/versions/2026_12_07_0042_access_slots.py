"""access consultations: a slot's kind (snp, or access: a long visit for a patient without a médecin traitant,
booked by the coordinator, never an SNP slot), and the access consultation booked for an MT request.

Revision ID: 0042
Revises: 0041
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0042"
down_revision: str | None = "0041"
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


def downgrade() -> None:
    op.drop_index("uq_mt_requests_access_slot", table_name="mt_requests",
                  postgresql_where=sa.text("access_slot_id IS NOT NULL"))
    op.drop_constraint(op.f("fk_mt_requests_access_slot_id_slots"), "mt_requests", type_="foreignkey")
    op.drop_column("mt_requests", "access_booked_by")
    op.drop_column("mt_requests", "access_booked_at")
    op.drop_column("mt_requests", "access_slot_id")
    op.drop_constraint(op.f("ck_slots_kind"), "slots", type_="check")
    op.drop_column("slots", "kind")
