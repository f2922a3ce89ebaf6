"""referrals by city professionals: the kind of professional who referred a call.

``calls.referrer_kind`` is set on calls a referrer made (channel ``professionnel``): pharmacist,
nurse, medical secretary, social worker, other professional, or ``self``, the patient himself (a
self-referral by a signed link, channel ``autre``). A small partial index lets the monthly report
break referrals down by kind without reading the other calls.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = "'pharmacist', 'nurse', 'medical_secretary', 'social_worker', 'other_professional', 'self'"


def upgrade() -> None:
    op.add_column("calls", sa.Column("referrer_kind", sa.String(24), nullable=True))
    op.create_check_constraint(op.f("ck_calls_referrer_kind"), "calls",
                               f"referrer_kind IS NULL OR referrer_kind IN ({KINDS})")
    op.create_check_constraint(op.f("ck_calls_referrer_channel"), "calls",
                               "referrer_kind IS NULL OR channel IN ('professionnel', 'autre')")
    op.create_index("ix_calls_referrals", "calls", ["territory_code", "received_at"],
                    postgresql_include=["referrer_kind"], postgresql_where=sa.text("referrer_kind IS NOT NULL"))
    # a referrer's own referrals (GET /v1/referrals)
    op.create_index("ix_calls_referrer", "calls", ["created_by", "received_at"],
                    postgresql_where=sa.text("referrer_kind IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_calls_referrer", "calls")
    op.drop_index("ix_calls_referrals", "calls")
    op.drop_constraint(op.f("ck_calls_referrer_channel"), "calls", type_="check")
    op.drop_constraint(op.f("ck_calls_referrer_kind"), "calls", type_="check")
    op.drop_column("calls", "referrer_kind")
