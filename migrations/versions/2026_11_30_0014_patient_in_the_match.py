"""the patient in the match: postcode centroids, the patient's address, one active booking per call.

- ``postcodes``: La Poste's official postcodes with the centroid of their communes (vendored in
  ``app/reference/fr-postcodes.csv``, "Source : La Poste", Licence Ouverte), for search near a
  patient's postcode;
- ``calls.patient_address``: where a home visit goes (purged with the rest of the identity);
- ``bookings.also``: a call holds one active booking, unless a second one says it is deliberate
  (``also``); the exclusion constraint is checked at the end of each statement, so one statement may
  cancel the booking it replaces and book the new one. Calls that already hold several active
  bookings keep them, the later ones marked ``also``.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from importlib import resources

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

def _rows() -> list[dict[str, object]]:
    with (resources.files("app") / "reference" / "fr-postcodes.csv").open(encoding="utf-8", newline="") as f:
        return [{"postcode": r["postcode"], "departements": r["departements"].split("|"),
                 "lat": float(r["lat"]) if r["lat"] else None, "lon": float(r["lon"]) if r["lon"] else None,
                 "communes": r["communes"]}
                for r in csv.DictReader(f, delimiter=";")]


def upgrade() -> None:
    table = op.create_table(
        "postcodes",
        sa.Column("postcode", sa.String(5), primary_key=True),
        sa.Column("departements", sa.ARRAY(sa.String(3)), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("communes", sa.Text(), nullable=False),
        sa.CheckConstraint("(lat IS NULL) = (lon IS NULL)", name=op.f("ck_postcodes_coordinates")),
    )
    op.bulk_insert(table, _rows())
    op.add_column("calls", sa.Column("patient_address", sa.String(300), nullable=True))
    op.add_column("bookings", sa.Column("also", sa.Boolean(), server_default=sa.text("false"), nullable=False))
    # No booking written between the marking below and the constraint.
    op.execute("LOCK TABLE bookings IN SHARE ROW EXCLUSIVE MODE")
    op.execute("""
        UPDATE bookings b SET also = true
        FROM (SELECT id, row_number() OVER (PARTITION BY call_id ORDER BY created_at, id) AS n
              FROM bookings WHERE status = 'active') r
        WHERE b.id = r.id AND r.n > 1
    """)
    op.execute("""
        ALTER TABLE bookings ADD CONSTRAINT ex_bookings_one_active_per_call
        EXCLUDE USING btree (call_id WITH =) WHERE (status = 'active' AND NOT also)
        DEFERRABLE INITIALLY IMMEDIATE
    """)


def downgrade() -> None:
    op.execute("ALTER TABLE bookings DROP CONSTRAINT ex_bookings_one_active_per_call")
    op.drop_column("bookings", "also")
    op.drop_column("calls", "patient_address")
    op.drop_table("postcodes")
