"""providers beyond the GP: profession (TRE-G15) and ordinal specialty (TRE-R38) codes, spoken
languages, and more kinds of site.

Codes are checked by the API against the vendored nomenclatures (app/reference); the database keeps
their form. A practitioner so far is a doctor (G15 ``10``); one whose label is "Médecine générale"
gets its code, SM54. Sites may now be SOS Médecins (``sos_medecins``) or a maison médicale de garde
(``mmg``).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = "kind IN ('cabinet', 'msp', 'csnp', 'centre_sante')"
KINDS = "kind IN ('cabinet', 'msp', 'csnp', 'centre_sante', 'sos_medecins', 'mmg')"


def upgrade() -> None:
    op.add_column("practitioners", sa.Column("profession_code", sa.String(2), server_default="10", nullable=False))
    op.add_column("practitioners", sa.Column("specialty_code", sa.String(5), nullable=True))
    op.add_column("practitioners", sa.Column("languages", sa.ARRAY(sa.String(2)),
                                             server_default=sa.text("'{fr}'"), nullable=False))
    op.create_check_constraint(op.f("ck_practitioners_profession_code"), "practitioners",
                               "profession_code ~ '^[0-9]{2}$'")
    op.create_check_constraint(op.f("ck_practitioners_specialty_code"), "practitioners",
                               "specialty_code ~ '^S[A-Z]{1,2}[0-9]{2}$'")
    op.execute("UPDATE practitioners SET specialty_code = 'SM54' WHERE specialty = 'Médecine générale'")
    op.drop_constraint(op.f("ck_sites_kind"), "sites", type_="check")
    op.create_check_constraint(op.f("ck_sites_kind"), "sites", KINDS)


def downgrade() -> None:
    op.execute("UPDATE sites SET kind = 'cabinet' WHERE kind IN ('sos_medecins', 'mmg')")
    op.drop_constraint(op.f("ck_sites_kind"), "sites", type_="check")
    op.create_check_constraint(op.f("ck_sites_kind"), "sites", OLD_KINDS)
    op.drop_constraint(op.f("ck_practitioners_specialty_code"), "practitioners", type_="check")
    op.drop_constraint(op.f("ck_practitioners_profession_code"), "practitioners", type_="check")
    op.drop_column("practitioners", "languages")
    op.drop_column("practitioners", "specialty_code")
    op.drop_column("practitioners", "profession_code")
