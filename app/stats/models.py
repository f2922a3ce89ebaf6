"""Indexes the report reads through (the tables belong to other domains; the report only reads them).

Each covers its query so PostgreSQL answers from the index alone: a territory's calls of a period
with their decision facts (``calls.decision_kinds`` / ``other_reasons``, kept by triggers, see
:mod:`app.stats.facts`), a territory's published slots of a period.
"""

from __future__ import annotations

from sqlalchemy import Index, text

from app.calls.models import Call
from app.slots.models import Slot

STATS_INDEXES = (
    Index(
        "ix_stats_calls_scope", Call.territory_code, Call.received_at,
        postgresql_include=["channel", "intent_without_sas", "priority", "first_callback_at", "decision_kinds",
                            "other_reasons"],
    ),
    Index(
        "ix_stats_slots_scope", Slot.territory_code, Slot.start_at, postgresql_include=["id", "end_at"],
        postgresql_where=text("status <> 'withdrawn'"),
    ),
)
