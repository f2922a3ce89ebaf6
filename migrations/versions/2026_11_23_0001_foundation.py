"""Foundation: reference data, slots, calls, bookings, outbox, audit; the 101 départements.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 05:23:50.559022+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The 101 départements (96 in metropolitan France, 5 overseas with their own time zones).
DEPARTEMENTS: list[tuple[str, str, str]] = [
    ("01", "Ain", "Europe/Paris"),
    ("02", "Aisne", "Europe/Paris"),
    ("03", "Allier", "Europe/Paris"),
    ("04", "Alpes-de-Haute-Provence", "Europe/Paris"),
    ("05", "Hautes-Alpes", "Europe/Paris"),
    ("06", "Alpes-Maritimes", "Europe/Paris"),
    ("07", "Ardèche", "Europe/Paris"),
    ("08", "Ardennes", "Europe/Paris"),
    ("09", "Ariège", "Europe/Paris"),
    ("10", "Aube", "Europe/Paris"),
    ("11", "Aude", "Europe/Paris"),
    ("12", "Aveyron", "Europe/Paris"),
    ("13", "Bouches-du-Rhône", "Europe/Paris"),
    ("14", "Calvados", "Europe/Paris"),
    ("15", "Cantal", "Europe/Paris"),
    ("16", "Charente", "Europe/Paris"),
    ("17", "Charente-Maritime", "Europe/Paris"),
    ("18", "Cher", "Europe/Paris"),
    ("19", "Corrèze", "Europe/Paris"),
    ("2A", "Corse-du-Sud", "Europe/Paris"),
    ("2B", "Haute-Corse", "Europe/Paris"),
    ("21", "Côte-d'Or", "Europe/Paris"),
    ("22", "Côtes-d'Armor", "Europe/Paris"),
    ("23", "Creuse", "Europe/Paris"),
    ("24", "Dordogne", "Europe/Paris"),
    ("25", "Doubs", "Europe/Paris"),
    ("26", "Drôme", "Europe/Paris"),
    ("27", "Eure", "Europe/Paris"),
    ("28", "Eure-et-Loir", "Europe/Paris"),
    ("29", "Finistère", "Europe/Paris"),
    ("30", "Gard", "Europe/Paris"),
    ("31", "Haute-Garonne", "Europe/Paris"),
    ("32", "Gers", "Europe/Paris"),
    ("33", "Gironde", "Europe/Paris"),
    ("34", "Hérault", "Europe/Paris"),
    ("35", "Ille-et-Vilaine", "Europe/Paris"),
    ("36", "Indre", "Europe/Paris"),
    ("37", "Indre-et-Loire", "Europe/Paris"),
    ("38", "Isère", "Europe/Paris"),
    ("39", "Jura", "Europe/Paris"),
    ("40", "Landes", "Europe/Paris"),
    ("41", "Loir-et-Cher", "Europe/Paris"),
    ("42", "Loire", "Europe/Paris"),
    ("43", "Haute-Loire", "Europe/Paris"),
    ("44", "Loire-Atlantique", "Europe/Paris"),
    ("45", "Loiret", "Europe/Paris"),
    ("46", "Lot", "Europe/Paris"),
    ("47", "Lot-et-Garonne", "Europe/Paris"),
    ("48", "Lozère", "Europe/Paris"),
    ("49", "Maine-et-Loire", "Europe/Paris"),
    ("50", "Manche", "Europe/Paris"),
    ("51", "Marne", "Europe/Paris"),
    ("52", "Haute-Marne", "Europe/Paris"),
    ("53", "Mayenne", "Europe/Paris"),
    ("54", "Meurthe-et-Moselle", "Europe/Paris"),
    ("55", "Meuse", "Europe/Paris"),
    ("56", "Morbihan", "Europe/Paris"),
    ("57", "Moselle", "Europe/Paris"),
    ("58", "Nièvre", "Europe/Paris"),
    ("59", "Nord", "Europe/Paris"),
    ("60", "Oise", "Europe/Paris"),
    ("61", "Orne", "Europe/Paris"),
    ("62", "Pas-de-Calais", "Europe/Paris"),
    ("63", "Puy-de-Dôme", "Europe/Paris"),
    ("64", "Pyrénées-Atlantiques", "Europe/Paris"),
    ("65", "Hautes-Pyrénées", "Europe/Paris"),
    ("66", "Pyrénées-Orientales", "Europe/Paris"),
    ("67", "Bas-Rhin", "Europe/Paris"),
    ("68", "Haut-Rhin", "Europe/Paris"),
    ("69", "Rhône", "Europe/Paris"),
    ("70", "Haute-Saône", "Europe/Paris"),
    ("71", "Saône-et-Loire", "Europe/Paris"),
    ("72", "Sarthe", "Europe/Paris"),
    ("73", "Savoie", "Europe/Paris"),
    ("74", "Haute-Savoie", "Europe/Paris"),
    ("75", "Paris", "Europe/Paris"),
    ("76", "Seine-Maritime", "Europe/Paris"),
    ("77", "Seine-et-Marne", "Europe/Paris"),
    ("78", "Yvelines", "Europe/Paris"),
    ("79", "Deux-Sèvres", "Europe/Paris"),
    ("80", "Somme", "Europe/Paris"),
    ("81", "Tarn", "Europe/Paris"),
    ("82", "Tarn-et-Garonne", "Europe/Paris"),
    ("83", "Var", "Europe/Paris"),
    ("84", "Vaucluse", "Europe/Paris"),
    ("85", "Vendée", "Europe/Paris"),
    ("86", "Vienne", "Europe/Paris"),
    ("87", "Haute-Vienne", "Europe/Paris"),
    ("88", "Vosges", "Europe/Paris"),
    ("89", "Yonne", "Europe/Paris"),
    ("90", "Territoire de Belfort", "Europe/Paris"),
    ("91", "Essonne", "Europe/Paris"),
    ("92", "Hauts-de-Seine", "Europe/Paris"),
    ("93", "Seine-Saint-Denis", "Europe/Paris"),
    ("94", "Val-de-Marne", "Europe/Paris"),
    ("95", "Val-d'Oise", "Europe/Paris"),
    ("971", "Guadeloupe", "America/Guadeloupe"),
    ("972", "Martinique", "America/Martinique"),
    ("973", "Guyane", "America/Cayenne"),
    ("974", "La Réunion", "Indian/Reunion"),
    ("976", "Mayotte", "Indian/Mayotte"),
]


def upgrade() -> None:
    # The exclusion constraint on a practitioner's slots mixes = on a uuid with && on a range.
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("actor_sub", sa.String(length=200), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("call_id", sa.UUID(), nullable=True),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_call_id"), "audit_log", ["call_id"], unique=False)
    op.create_table(
        "idempotency_keys",
        sa.Column("principal_sub", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("principal_sub", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "practitioners",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("rpps", sa.String(length=11), nullable=False),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("given_name", sa.String(length=100), nullable=False),
        sa.Column("specialty", sa.String(length=100), nullable=False),
        sa.Column("webhook_url", sa.String(length=2000), nullable=True),
        sa.Column("webhook_secret", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("rpps ~ '^[0-9]{11}$'", name=op.f("ck_practitioners_rpps_format")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practitioners")),
        sa.UniqueConstraint("rpps", name=op.f("uq_practitioners_rpps")),
    )
    op.create_table(
        "territories",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("parent_code", sa.String(length=40), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column(
            "priority_delays",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text('\'{"P1": 20, "P2": 60, "P3": 180}\'::jsonb'),
            nullable=False,
        ),
        sa.Column(
            "avoided_ed_method",
            sa.String(length=32),
            server_default=sa.text("'declared_intent'"),
            nullable=False,
        ),
        sa.Column(
            "avoided_ed_coefficients",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text(
                '\'{"advice": 0.1, "slot": 0.3, "prescription": 0.1, "other": 0.0}\'::jsonb'
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(kind = 'departement') = (parent_code IS NULL)", name=op.f("ck_territories_parent_matches_kind")
        ),
        sa.CheckConstraint(
            "avoided_ed_method IN ('declared_intent', 'coefficients')",
            name=op.f("ck_territories_avoided_ed_method"),
        ),
        sa.CheckConstraint("kind IN ('departement', 'cpts')", name=op.f("ck_territories_kind")),
        sa.ForeignKeyConstraint(
            ["parent_code"], ["territories.code"], name=op.f("fk_territories_parent_code_territories")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_territories")),
    )
    op.create_index(op.f("ix_territories_parent_code"), "territories", ["parent_code"], unique=False)
    op.create_table(
        "calls",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("territory_code", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("priority", sa.String(length=2), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("intent_without_sas", sa.String(length=16), server_default="inconnu", nullable=False),
        sa.Column("status", sa.String(length=16), server_default="waiting", nullable=False),
        sa.Column("assigned_to", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("first_callback_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=8), server_default="live", nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("patient_family_name", sa.String(length=100), nullable=True),
        sa.Column("patient_given_name", sa.String(length=100), nullable=True),
        sa.Column("patient_birth_year", sa.SmallInteger(), nullable=True),
        sa.Column("patient_sex", sa.String(length=1), nullable=True),
        sa.Column("patient_phone", sa.String(length=20), nullable=True),
        sa.Column("patient_postcode", sa.String(length=5), nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "channel IN ('15', '116117', 'urgences', 'professionnel', 'autre')", name=op.f("ck_calls_channel")
        ),
        sa.CheckConstraint(
            "intent_without_sas IN ('urgences', 'medecin', 'pharmacie', 'rien', 'inconnu')",
            name=op.f("ck_calls_intent"),
        ),
        sa.CheckConstraint(
            "patient_sex IS NULL OR patient_sex IN ('F', 'M', 'U')", name=op.f("ck_calls_patient_sex")
        ),
        sa.CheckConstraint(
            "priority IS NULL OR priority IN ('P1', 'P2', 'P3')", name=op.f("ck_calls_priority")
        ),
        sa.CheckConstraint("source IN ('live', 'import')", name=op.f("ck_calls_source")),
        sa.CheckConstraint("status IN ('waiting', 'in_progress', 'closed')", name=op.f("ck_calls_status")),
        sa.ForeignKeyConstraint(
            ["territory_code"], ["territories.code"], name=op.f("fk_calls_territory_code_territories")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("territory_code", "external_id", name="uq_calls_territory_external_id"),
    )
    op.create_index("ix_calls_queue", "calls", ["territory_code", "status", "due_at"], unique=False)
    op.create_index("ix_calls_territory_received", "calls", ["territory_code", "received_at"], unique=False)
    op.create_table(
        "outbox_events",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("practitioner_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_outbox_events_practitioner_id_practitioners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_events")),
        sa.UniqueConstraint("seq", name=op.f("uq_outbox_events_seq")),
    )
    op.create_index(
        "ix_outbox_events_pending",
        "outbox_events",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("delivered_at IS NULL"),
    )
    op.create_index(
        "ix_outbox_events_practitioner_seq", "outbox_events", ["practitioner_id", "seq"], unique=False
    )
    op.create_table(
        "practitioner_territories",
        sa.Column("practitioner_id", sa.UUID(), nullable=False),
        sa.Column("territory_code", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_practitioner_territories_practitioner_id_practitioners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["territory_code"],
            ["territories.code"],
            name=op.f("fk_practitioner_territories_territory_code_territories"),
        ),
        sa.PrimaryKeyConstraint(
            "practitioner_id", "territory_code", name=op.f("pk_practitioner_territories")
        ),
    )
    op.create_index(
        op.f("ix_practitioner_territories_territory_code"),
        "practitioner_territories",
        ["territory_code"],
        unique=False,
    )
    op.create_table(
        "sites",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("postcode", sa.String(length=5), nullable=False),
        sa.Column("insee_code", sa.String(length=5), nullable=True),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("territory_code", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('cabinet', 'msp', 'csnp', 'centre_sante')", name=op.f("ck_sites_kind")),
        sa.CheckConstraint(
            "lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180", name=op.f("ck_sites_coordinates")
        ),
        sa.ForeignKeyConstraint(
            ["territory_code"], ["territories.code"], name=op.f("fk_sites_territory_code_territories")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
    )
    op.create_index(op.f("ix_sites_territory_code"), "sites", ["territory_code"], unique=False)
    op.create_table(
        "availability_rules",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("practitioner_id", sa.UUID(), nullable=False),
        sa.Column("site_id", sa.UUID(), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("audience", sa.String(length=16), server_default=sa.text("'all'"), nullable=False),
        sa.Column("weekdays", postgresql.ARRAY(sa.SmallInteger()), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "mode IN ('in_person', 'home_visit', 'teleconsultation')", name=op.f("ck_availability_rules_mode")
        ),
        sa.CheckConstraint("end_time > start_time", name=op.f("ck_availability_rules_times")),
        sa.CheckConstraint("slot_minutes BETWEEN 5 AND 720", name=op.f("ck_availability_rules_slot_minutes")),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_availability_rules_practitioner_id_practitioners"),
        ),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_availability_rules_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_availability_rules")),
    )
    op.create_index(
        op.f("ix_availability_rules_practitioner_id"), "availability_rules", ["practitioner_id"], unique=False
    )
    op.create_table(
        "call_callbacks",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("call_id", sa.UUID(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("by_sub", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_call_callbacks_call_id_calls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_callbacks")),
    )
    op.create_index(op.f("ix_call_callbacks_call_id"), "call_callbacks", ["call_id"], unique=False)
    op.create_table(
        "slots",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("practitioner_id", sa.UUID(), nullable=False),
        sa.Column("site_id", sa.UUID(), nullable=False),
        sa.Column("territory_code", sa.String(length=40), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("audience", sa.String(length=16), server_default=sa.text("'all'"), nullable=False),
        sa.Column("status", sa.String(length=16), server_default=sa.text("'free'"), nullable=False),
        sa.Column("held_by_call_id", sa.UUID(), nullable=True),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=8), server_default=sa.text("'api'"), nullable=False),
        sa.Column("source_key", sa.String(length=500), nullable=True),
        sa.Column("rule_id", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        postgresql.ExcludeConstraint(
            (sa.column("practitioner_id"), "="),
            (sa.text("tstzrange(start_at, end_at, '[)')"), "&&"),
            where=sa.text("status <> 'withdrawn'"),
            using="gist",
            name="ex_slots_practitioner_overlap",
        ),
        sa.CheckConstraint("audience IN ('all', 'children', 'ehpad')", name=op.f("ck_slots_audience")),
        sa.CheckConstraint(
            "end_at - start_at BETWEEN interval '5 minutes' AND interval '12 hours'",
            name=op.f("ck_slots_duration"),
        ),
        sa.CheckConstraint(
            "mode IN ('in_person', 'home_visit', 'teleconsultation')", name=op.f("ck_slots_mode")
        ),
        sa.CheckConstraint("source IN ('api', 'bulk', 'rule', 'ics', 'fhir')", name=op.f("ck_slots_source")),
        sa.CheckConstraint("status IN ('free', 'booked', 'withdrawn')", name=op.f("ck_slots_status")),
        sa.CheckConstraint("end_at > start_at", name=op.f("ck_slots_end_after_start")),
        sa.ForeignKeyConstraint(
            ["held_by_call_id"],
            ["calls.id"],
            name=op.f("fk_slots_held_by_call_id_calls"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"], ["practitioners.id"], name=op.f("fk_slots_practitioner_id_practitioners")
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["availability_rules.id"], name=op.f("fk_slots_rule_id_availability_rules")
        ),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_slots_site_id_sites")),
        sa.ForeignKeyConstraint(
            ["territory_code"], ["territories.code"], name=op.f("fk_slots_territory_code_territories")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slots")),
        sa.UniqueConstraint("practitioner_id", "source_key", name="uq_slots_practitioner_source_key"),
    )
    op.create_index(
        "ix_slots_free_territory_start",
        "slots",
        ["territory_code", "start_at"],
        unique=False,
        postgresql_where=sa.text("status = 'free'"),
    )
    op.create_index("ix_slots_practitioner_start", "slots", ["practitioner_id", "start_at"], unique=False)
    op.create_index(op.f("ix_slots_rule_id"), "slots", ["rule_id"], unique=False)
    op.create_index(op.f("ix_slots_site_id"), "slots", ["site_id"], unique=False)
    op.create_table(
        "bookings",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("slot_id", sa.UUID(), nullable=False),
        sa.Column("call_id", sa.UUID(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.String(length=200), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("outcome_note", sa.Text(), nullable=True),
        sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('fulfilled', 'noshow')", name=op.f("ck_bookings_outcome")
        ),
        sa.CheckConstraint("status IN ('active', 'cancelled')", name=op.f("ck_bookings_status")),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_bookings_call_id_calls")),
        sa.ForeignKeyConstraint(["slot_id"], ["slots.id"], name=op.f("fk_bookings_slot_id_slots")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
    )
    op.create_index(op.f("ix_bookings_call_id"), "bookings", ["call_id"], unique=False)
    op.create_index(op.f("ix_bookings_slot_id"), "bookings", ["slot_id"], unique=False)
    op.create_index(
        "uq_bookings_active_slot",
        "bookings",
        ["slot_id"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "decisions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("call_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("other_reason", sa.String(length=16), nullable=True),
        sa.Column("pharmacy_name", sa.String(length=200), nullable=True),
        sa.Column("pharmacy_finess", sa.String(length=9), nullable=True),
        sa.Column("booking_id", sa.UUID(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(kind = 'other') = (other_reason IS NOT NULL)", name=op.f("ck_decisions_other_needs_reason")
        ),
        sa.CheckConstraint(
            "booking_id IS NULL OR kind = 'slot'", name=op.f("ck_decisions_booking_only_for_slot")
        ),
        sa.CheckConstraint(
            "kind IN ('advice', 'slot', 'prescription', 'other')", name=op.f("ck_decisions_kind")
        ),
        sa.CheckConstraint(
            "other_reason IS NULL OR other_reason IN ('no_answer', 'redirected_15', 'redirected_ed', 'other')",
            name=op.f("ck_decisions_other_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["bookings.id"], name=op.f("fk_decisions_booking_id_bookings")
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_decisions_call_id_calls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
    )
    op.create_index(op.f("ix_decisions_booking_id"), "decisions", ["booking_id"], unique=False)
    op.create_index(op.f("ix_decisions_call_id"), "decisions", ["call_id"], unique=False)

    territories = sa.table(
        "territories",
        sa.column("code", sa.String),
        sa.column("name", sa.String),
        sa.column("kind", sa.String),
        sa.column("timezone", sa.String),
    )
    op.bulk_insert(
        territories,
        [{"code": c, "name": n, "kind": "departement", "timezone": tz} for c, n, tz in DEPARTEMENTS],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_decisions_call_id"), table_name="decisions")
    op.drop_index(op.f("ix_decisions_booking_id"), table_name="decisions")
    op.drop_table("decisions")
    op.drop_index(
        "uq_bookings_active_slot", table_name="bookings", postgresql_where=sa.text("status = 'active'")
    )
    op.drop_index(op.f("ix_bookings_slot_id"), table_name="bookings")
    op.drop_index(op.f("ix_bookings_call_id"), table_name="bookings")
    op.drop_table("bookings")
    op.drop_index(op.f("ix_slots_site_id"), table_name="slots")
    op.drop_index(op.f("ix_slots_rule_id"), table_name="slots")
    op.drop_index("ix_slots_practitioner_start", table_name="slots")
    op.drop_index(
        "ix_slots_free_territory_start", table_name="slots", postgresql_where=sa.text("status = 'free'")
    )
    op.drop_table("slots")
    op.drop_index(op.f("ix_call_callbacks_call_id"), table_name="call_callbacks")
    op.drop_table("call_callbacks")
    op.drop_index(op.f("ix_availability_rules_practitioner_id"), table_name="availability_rules")
    op.drop_table("availability_rules")
    op.drop_index(op.f("ix_sites_territory_code"), table_name="sites")
    op.drop_table("sites")
    op.drop_index(op.f("ix_practitioner_territories_territory_code"), table_name="practitioner_territories")
    op.drop_table("practitioner_territories")
    op.drop_index("ix_outbox_events_practitioner_seq", table_name="outbox_events")
    op.drop_index(
        "ix_outbox_events_pending",
        table_name="outbox_events",
        postgresql_where=sa.text("delivered_at IS NULL"),
    )
    op.drop_table("outbox_events")
    op.drop_index("ix_calls_territory_received", table_name="calls")
    op.drop_index("ix_calls_queue", table_name="calls")
    op.drop_table("calls")
    op.drop_index(op.f("ix_territories_parent_code"), table_name="territories")
    op.drop_table("territories")
    op.drop_table("practitioners")
    op.drop_table("idempotency_keys")
    op.drop_index(op.f("ix_audit_log_call_id"), table_name="audit_log")
    op.drop_table("audit_log")
    op.execute("DROP EXTENSION IF EXISTS btree_gist")
