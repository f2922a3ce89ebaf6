"""a practitioner may also be known by his ADELI number (9 characters: the département, 2A or 2B in
Corsica, then 7 digits), the national id the ANS guide accepts beside the RPPS (``0`` + ADELI): the
platform may search his slots, and agendas declare his appointments, by it. One practitioner per ADELI.
A site may carry the FINESS of the structure it is (an MSP, a centre de santé…): an appointment there
names that organization to the SAMU, never the CPTS the site lies in.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("practitioners", sa.Column("adeli", sa.String(length=9), nullable=True))
    op.create_unique_constraint(op.f("uq_practitioners_adeli"), "practitioners", ["adeli"])
    op.create_check_constraint(op.f("ck_practitioners_adeli_format"), "practitioners",
                               "adeli ~ '^([0-9]{2}|2[AB])[0-9]{7}$'")
    op.add_column("sites", sa.Column("finess", sa.String(length=9), nullable=True))
    op.create_check_constraint(op.f("ck_sites_finess"), "sites", "finess ~ '^([0-9]{2}|2[AB])[0-9]{7}$'")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_sites_finess"), "sites", type_="check")
    op.drop_column("sites", "finess")
    op.drop_constraint(op.f("ck_practitioners_adeli_format"), "practitioners", type_="check")
    op.drop_constraint(op.f("uq_practitioners_adeli"), "practitioners", type_="unique")
    op.drop_column("practitioners", "adeli")
