"""bookings: an active booking's slot is booked, kept by PostgreSQL.

Every path that books a slot marks it booked in the same statement, and every path that frees one ends its
active booking there too; nothing in the database said so. The search shows a free slot as bookable, so a
slot freed under an active booking would be offered to a second patient (the unique active booking per slot
would then refuse the booking: a refusal for a slot shown free). Two constraint triggers now refuse, at the end
of the writing statement, an active booking whose slot is not booked and a booked slot left while its booking
is active. The monthly report relies on it: it reads the bookings of the booked slots only.

Rows written before: an active booking on a free slot has its slot marked booked (what the booking meant); an
active booking on a withdrawn slot stops the migration, for someone to decide which is right.

Revision ID: 0050
Revises: 0049
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0050"
down_revision: str | None = "0049"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = ("""
DO $$
DECLARE withdrawn bigint; repaired bigint;
BEGIN
    SELECT count(*) INTO withdrawn FROM bookings b JOIN slots s ON s.id = b.slot_id
    WHERE b.status = 'active' AND s.status = 'withdrawn';
    IF withdrawn > 0 THEN
        RAISE EXCEPTION '% active booking(s) on withdrawn slots: cancel them or give their slots back first', withdrawn;
    END IF;
    UPDATE slots s SET status = 'booked' FROM bookings b
    WHERE b.slot_id = s.id AND b.status = 'active' AND s.status = 'free';
    GET DIAGNOSTICS repaired = ROW_COUNT;
    IF repaired > 0 THEN
        RAISE NOTICE '% free slot(s) holding an active booking marked booked', repaired;
    END IF;
END $$""", """
CREATE FUNCTION bookings_active_slot_booked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM slots s WHERE s.id = NEW.slot_id AND s.status = 'booked') THEN
        RAISE EXCEPTION 'the slot of an active booking must be booked'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_bookings_active_slot_booked', TABLE = 'bookings';
    END IF;
    RETURN NULL;
END $$""", """
CREATE CONSTRAINT TRIGGER ck_bookings_active_slot_booked
    AFTER INSERT OR UPDATE OF status, slot_id ON bookings
    FOR EACH ROW WHEN (NEW.status = 'active') EXECUTE FUNCTION bookings_active_slot_booked()""", """
CREATE FUNCTION slots_booked_while_active() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM bookings b WHERE b.slot_id = NEW.id AND b.status = 'active') THEN
        RAISE EXCEPTION 'a slot holding an active booking stays booked'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_slots_booked_while_active', TABLE = 'slots';
    END IF;
    RETURN NULL;
END $$""", """
CREATE CONSTRAINT TRIGGER ck_slots_booked_while_active
    AFTER UPDATE OF status ON slots
    FOR EACH ROW WHEN (OLD.status = 'booked' AND NEW.status <> 'booked') EXECUTE FUNCTION slots_booked_while_active()""")

DOWNGRADE = ("DROP TRIGGER IF EXISTS ck_slots_booked_while_active ON slots",
             "DROP FUNCTION IF EXISTS slots_booked_while_active()",
             "DROP TRIGGER IF EXISTS ck_bookings_active_slot_booked ON bookings",
             "DROP FUNCTION IF EXISTS bookings_active_slot_booked()")


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
