"""slots: a cheaper write path for bulk publishing, with a stronger site rule.

- One composite foreign key (site_id, territory_code) → sites (id, territory_code) replaces the two
  foreign keys on site_id and territory_code: one check a row instead of two, and a slot can no
  longer lie outside its site's territory.
- The source-key uniqueness and the rule index become partial: slots published without a key or a
  rule (most of them) no longer write an entry into them.
- ix_slots_site_id goes: no query looks slots up by site, and sites are never deleted.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_unique_constraint("uq_sites_id_territory_code", "sites", ["id", "territory_code"])
    op.drop_constraint("fk_slots_site_id_sites", "slots", type_="foreignkey")
    op.drop_constraint("fk_slots_territory_code_territories", "slots", type_="foreignkey")
    op.create_foreign_key(
        "fk_slots_site_id_sites", "slots", "sites", ["site_id", "territory_code"], ["id", "territory_code"]
    )
    op.drop_index("ix_slots_site_id", table_name="slots")
    op.drop_index("ix_slots_rule_id", table_name="slots")
    op.create_index("ix_slots_rule_id", "slots", ["rule_id"], postgresql_where=sa.text("rule_id IS NOT NULL"))
    op.drop_constraint("uq_slots_practitioner_source_key", "slots", type_="unique")
    op.create_index(
        "uq_slots_practitioner_source_key", "slots", ["practitioner_id", "source_key"], unique=True,
        postgresql_where=sa.text("source_key IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_slots_practitioner_source_key", table_name="slots")
    op.create_unique_constraint("uq_slots_practitioner_source_key", "slots", ["practitioner_id", "source_key"])
    op.drop_index("ix_slots_rule_id", table_name="slots")
    op.create_index("ix_slots_rule_id", "slots", ["rule_id"])
    op.create_index("ix_slots_site_id", "slots", ["site_id"])
    op.drop_constraint("fk_slots_site_id_sites", "slots", type_="foreignkey")
    op.create_foreign_key("fk_slots_territory_code_territories", "slots", "territories", ["territory_code"], ["code"])
    op.create_foreign_key("fk_slots_site_id_sites", "slots", "sites", ["site_id"], ["id"])
    op.drop_constraint("uq_sites_id_territory_code", "sites", type_="unique")
