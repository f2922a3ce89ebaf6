"""patient identity sealed at rest (app/crypto.py): names, phone, address and reason of a call become
AES-GCM sealed text (longer: the columns become text), found again by keyed hashes of name prefixes and
phone endings; the rows already there, and what booking events copied of them, are sealed now.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("patient_family_name", "patient_given_name", "patient_phone", "patient_address")


def upgrade() -> None:
    for column in COLUMNS:
        op.alter_column("calls", column, type_=sa.Text(), existing_nullable=True)
    op.add_column("calls", sa.Column("patient_name_hashes", postgresql.ARRAY(sa.String(32)), nullable=True))
    op.add_column("calls", sa.Column("patient_phone_hashes", postgresql.ARRAY(sa.String(32)), nullable=True))
    op.create_index("ix_calls_patient_name_hashes", "calls", ["patient_name_hashes"], postgresql_using="gin")
    op.create_index("ix_calls_patient_phone_hashes", "calls", ["patient_phone_hashes"], postgresql_using="gin")
    from app.identity.crypto import keyring_of
    from app.identity.sealing import seal_all  # the same code as `snp keys rotate`
    from app.platform.config import get_settings

    seal_all(op.get_bind(), keyring_of(get_settings()))


def downgrade() -> None:
    from app.identity.crypto import keyring_of
    from app.identity.sealing import open_all
    from app.platform.config import get_settings

    open_all(op.get_bind(), keyring_of(get_settings()))
    op.drop_index("ix_calls_patient_phone_hashes", table_name="calls")
    op.drop_index("ix_calls_patient_name_hashes", table_name="calls")
    op.drop_column("calls", "patient_phone_hashes")
    op.drop_column("calls", "patient_name_hashes")
    for column, length in zip(COLUMNS, (100, 100, 20, 300), strict=True):
        op.alter_column("calls", column, type_=sa.String(length), existing_nullable=True)
