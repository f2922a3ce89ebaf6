"""patients without a médecin traitant: the doctors' offers to take new patients and their monthly capacity
taken, the waiting list (identity sealed at rest) and the proposals (never two accepted for one request).

Revision ID: 0041
Revises: 0040
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0041"
down_revision: str | None = "0040"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = postgresql.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.create_table(
        "mt_offers",
        sa.Column("practitioner_id", sa.Uuid(), nullable=False),
        sa.Column("accepting", sa.Boolean(), nullable=False),
        sa.Column("per_month", sa.SmallInteger(), nullable=False),
        sa.Column("publics", postgresql.ARRAY(sa.String(length=12)), nullable=False),
        sa.Column("site_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("public_listing", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("updated_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("per_month >= 0 AND per_month <= 100", name=op.f("ck_mt_offers_per_month")),
        sa.CheckConstraint("NOT accepting OR per_month >= 1", name=op.f("ck_mt_offers_accepting_capacity")),
        sa.CheckConstraint("publics <@ ARRAY['ald', 'children', 'elderly', 'disability', 'any']::varchar[]",
                           name=op.f("ck_mt_offers_publics")),
        sa.ForeignKeyConstraint(["practitioner_id"], ["practitioners.id"], ondelete="CASCADE",
                                name=op.f("fk_mt_offers_practitioner_id_practitioners")),
        sa.PrimaryKeyConstraint("practitioner_id", name=op.f("pk_mt_offers")),
    )
    op.create_table(
        "mt_capacity",
        sa.Column("practitioner_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.CheckConstraint("taken >= 0", name=op.f("ck_mt_capacity_taken")),
        sa.ForeignKeyConstraint(["practitioner_id"], ["practitioners.id"], ondelete="CASCADE",
                                name=op.f("fk_mt_capacity_practitioner_id_practitioners")),
        sa.PrimaryKeyConstraint("practitioner_id", "month", name=op.f("pk_mt_capacity")),
    )
    op.create_table(
        "mt_requests",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("territory_code", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("state", sa.String(length=10), server_default="waiting", nullable=False),
        sa.Column("closed_reason", sa.String(length=16), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_by_role", sa.String(length=20), nullable=False),
        sa.Column("referrer_kind", sa.String(length=30), nullable=True),
        sa.Column("call_id", sa.Uuid(), nullable=True),
        sa.Column("patient_family_name", sa.Text(), nullable=True),
        sa.Column("patient_given_name", sa.Text(), nullable=True),
        sa.Column("patient_phone", sa.Text(), nullable=True),
        sa.Column("patient_address", sa.Text(), nullable=True),
        sa.Column("patient_email", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("patient_birth_year", sa.SmallInteger(), nullable=True),
        sa.Column("patient_sex", sa.String(length=1), nullable=True),
        sa.Column("patient_postcode", sa.String(length=5), nullable=True),
        sa.Column("publics", postgresql.ARRAY(sa.String(length=12)), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("priority", sa.String(length=8), nullable=False),
        sa.Column("priority_computed", sa.String(length=8), nullable=False),
        sa.Column("priority_reasons", postgresql.ARRAY(sa.String(length=16)), server_default=sa.text("'{}'"),
                  nullable=False),
        sa.Column("priority_adjusted_by", sa.String(length=200), nullable=True),
        sa.Column("priority_adjusted_at", TZ, nullable=True),
        sa.Column("priority_adjusted_reason", sa.Text(), nullable=True),
        sa.Column("practitioner_id", sa.Uuid(), nullable=True),
        sa.Column("accepted_at", TZ, nullable=True),
        sa.Column("first_visit_on", sa.Date(), nullable=True),
        sa.Column("found_at", TZ, nullable=True),
        sa.Column("closed_at", TZ, nullable=True),
        sa.Column("ended_at", TZ, nullable=True),
        sa.Column("purged_at", TZ, nullable=True),
        sa.Column("created_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("source IN ('regulation', 'effector', 'referrer', 'self', 'coordinator', 'import')",
                           name=op.f("ck_mt_requests_source")),
        sa.CheckConstraint("state IN ('waiting', 'proposed', 'accepted', 'found', 'closed')",
                           name=op.f("ck_mt_requests_state")),
        sa.CheckConstraint("closed_reason IN ('found_elsewhere', 'unreachable', 'moved', 'deceased')",
                           name=op.f("ck_mt_requests_closed_reason")),
        sa.CheckConstraint("(state = 'closed') = (closed_reason IS NOT NULL)",
                           name=op.f("ck_mt_requests_closed_with_reason")),
        sa.CheckConstraint("priority IN ('high', 'medium', 'normal') AND priority_computed IN ('high', 'medium', "
                           "'normal')", name=op.f("ck_mt_requests_priority")),
        sa.CheckConstraint("state NOT IN ('accepted', 'found') OR practitioner_id IS NOT NULL",
                           name=op.f("ck_mt_requests_placed")),
        sa.CheckConstraint("state <> 'found' OR first_visit_on IS NOT NULL", name=op.f("ck_mt_requests_found_visit")),
        sa.ForeignKeyConstraint(["territory_code"], ["territories.code"],
                                name=op.f("fk_mt_requests_territory_code_territories")),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], ondelete="SET NULL", name=op.f("fk_mt_requests_call_id_calls")),
        sa.ForeignKeyConstraint(["practitioner_id"], ["practitioners.id"],
                                name=op.f("fk_mt_requests_practitioner_id_practitioners")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mt_requests")),
    )
    op.create_index("ix_mt_requests_queue", "mt_requests", ["territory_code", "state", "created_at"])
    op.create_index("ix_mt_requests_created_by", "mt_requests", ["created_by"])
    op.create_index("ix_mt_requests_to_purge", "mt_requests", ["ended_at"],
                    postgresql_where=sa.text("purged_at IS NULL AND ended_at IS NOT NULL"))
    op.create_table(
        "mt_proposals",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("practitioner_id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=True),
        sa.Column("distance_km", sa.Float(), nullable=True),
        sa.Column("state", sa.String(length=10), server_default="pending", nullable=False),
        sa.Column("refusal_reason", sa.String(length=16), nullable=True),
        sa.Column("patient_agreed", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.Column("answered_at", TZ, nullable=True),
        sa.CheckConstraint("state IN ('pending', 'accepted', 'refused', 'withdrawn')",
                           name=op.f("ck_mt_proposals_state")),
        sa.CheckConstraint("refusal_reason IN ('no_capacity', 'publics', 'too_far', 'patient_known', 'other')",
                           name=op.f("ck_mt_proposals_refusal_reason")),
        sa.CheckConstraint("(state = 'refused') = (refusal_reason IS NOT NULL)",
                           name=op.f("ck_mt_proposals_refused_with_reason")),
        sa.CheckConstraint("patient_agreed", name=op.f("ck_mt_proposals_patient_agreed")),
        sa.ForeignKeyConstraint(["request_id"], ["mt_requests.id"], ondelete="CASCADE",
                                name=op.f("fk_mt_proposals_request_id_mt_requests")),
        sa.ForeignKeyConstraint(["practitioner_id"], ["practitioners.id"], ondelete="CASCADE",
                                name=op.f("fk_mt_proposals_practitioner_id_practitioners")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_mt_proposals_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mt_proposals")),
    )
    op.create_index("ix_mt_proposals_request_id", "mt_proposals", ["request_id"])
    op.create_index("ix_mt_proposals_practitioner", "mt_proposals", ["practitioner_id", "state"])
    op.create_index("uq_mt_proposals_one_accepted", "mt_proposals", ["request_id"], unique=True,
                    postgresql_where=sa.text("state = 'accepted'"))
    op.create_index("uq_mt_proposals_one_pending", "mt_proposals", ["request_id", "practitioner_id"], unique=True,
                    postgresql_where=sa.text("state = 'pending'"))


def downgrade() -> None:
    op.drop_table("mt_proposals")
    op.drop_table("mt_requests")
    op.drop_table("mt_capacity")
    op.drop_table("mt_offers")
