"""the record of the regulation: the SAMU's file number of a call (``samu_case_id``, the number the 15 gives
when it transfers, searchable), and the call's observations — timestamped, signed by their author,
append-only (a correction is a new observation naming the one it corrects), their text sealed at rest
like the call's reason and kept for the medical record's own retention (``SNP_RECORD_RETENTION_DAYS``).

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("calls", sa.Column("samu_case_id", sa.String(length=64), nullable=True))
    op.create_index("ix_calls_samu_case_id", "calls", ["samu_case_id"],
                    postgresql_where=sa.text("samu_case_id IS NOT NULL"))
    op.create_table(
        "call_observations",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("call_id", sa.UUID(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("clock_timestamp()"), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("author_role", sa.String(length=20), nullable=False),
        sa.Column("author_name", sa.String(length=200), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("corrects", sa.UUID(), nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], ondelete="CASCADE",
                                name=op.f("fk_call_observations_call_id_calls")),
        sa.ForeignKeyConstraint(["corrects"], ["call_observations.id"],
                                name=op.f("fk_call_observations_corrects_call_observations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_observations")),
    )
    op.create_index("ix_call_observations_call_id_at", "call_observations", ["call_id", "at"])
    # Append-only: who wrote what, when, and what it corrects never change. Only the text's sealing may
    # (a key rotation seals it again, the retention purge empties it and dates that).
    op.execute("""
        CREATE FUNCTION call_observations_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF (NEW.id, NEW.call_id, NEW.at, NEW.author, NEW.author_role)
                   IS DISTINCT FROM (OLD.id, OLD.call_id, OLD.at, OLD.author, OLD.author_role)
               OR NEW.author_name IS DISTINCT FROM OLD.author_name OR NEW.corrects IS DISTINCT FROM OLD.corrects
               OR (NEW.text IS NULL) <> (NEW.purged_at IS NOT NULL) THEN
                RAISE EXCEPTION 'an observation is never changed: write a correction' USING ERRCODE = '55000';
            END IF;
            RETURN NEW;
        END $$""")
    op.execute("""
        CREATE TRIGGER call_observations_append_only BEFORE UPDATE ON call_observations
        FOR EACH ROW EXECUTE FUNCTION call_observations_append_only()""")


def downgrade() -> None:
    op.execute("DROP TRIGGER call_observations_append_only ON call_observations")
    op.execute("DROP FUNCTION call_observations_append_only()")
    op.drop_table("call_observations")
    op.drop_index("ix_calls_samu_case_id", table_name="calls")
    op.drop_column("calls", "samu_case_id")
