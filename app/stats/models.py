"""Indexes the report reads through (the tables belong to other domains; the report only reads them).

Each covers its query so PostgreSQL answers from the index alone: a territory's calls of a period
with their decision facts (``calls.decision_kinds`` / ``other_reasons``, kept by triggers, see
:mod:`app.stats.facts`), a territory's published slots of a period.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Date, DateTime, Index, Integer, Sequence, String, Table, text

from app.calls.models import Call
from app.platform.database import Base
from app.slots.models import Slot
from app.stats.facts import COUNTERS, delay_minute

STATS_INDEXES = (
    Index(
        "ix_stats_calls_scope", Call.territory_code, Call.received_at,
        postgresql_include=["channel", "intent_without_sas", "priority", "first_callback_at", "decision_kinds",
                            "other_reasons"],
    ),
    # The calls of one territory's callback minute (rounded up), for the exact medians read from the rollup
    # (migration 0049).
    Index(
        "ix_stats_calls_delay",
        Call.territory_code, text(delay_minute()), Call.received_at,
        postgresql_include=["first_callback_at"],
        postgresql_where=text("first_callback_at IS NOT NULL"),
    ),
    Index(
        "ix_stats_slots_scope", Slot.territory_code, Slot.start_at, postgresql_include=["id", "end_at"],
        postgresql_where=text("status <> 'withdrawn'"),
    ),
)


def _counters() -> list[Column[int]]:
    return [Column(name, BigInteger, nullable=False) for name in ROLLUP_COUNTERS]


# The national rollup (migration 0007): cells of calls by territory, local month, priority and callback
# minute, with the report's counters, and the signed deltas the writes append until they are folded in.
ROLLUP_COUNTERS = tuple(COUNTERS)
_KEY = (
    ("territory_code", String(40)), ("month", Date), ("priority", String(2)), ("called_back", Boolean),
    ("delay_bucket", Integer),
)
STATS_CALL_CELLS = Table(
    "stats_call_cells", Base.metadata,
    *(Column(name, kind, primary_key=True) for name, kind in _KEY), *_counters(),
)
STATS_CALL_DELTAS = Table(
    "stats_call_deltas", Base.metadata,
    *(Column(name, kind, nullable=False) for name, kind in _KEY), *_counters(),
    Index("ix_stats_call_deltas_key", "territory_code", "month"),  # a territory's own deltas (migration 0049)
)

# The (territory, month) each late write changed (migrations 0039, 0048), appended by triggers with the writing
# transaction's id: a report of closed months is kept while its snapshot saw every change of its territories and
# months (app/stats/cache.py).
STATS_CHANGES_SEQ = Sequence("stats_changes_seq", metadata=Base.metadata)
STATS_CHANGES = Table(
    "stats_changes", Base.metadata,
    Column("territory_code", String(40), nullable=False),
    Column("month", Date, nullable=False),
    Column("changed", BigInteger, STATS_CHANGES_SEQ, server_default=STATS_CHANGES_SEQ.next_value(), primary_key=True),
    # The writing transaction's id (migration 0048): a kept report's snapshot either saw it or not.
    Column("xid", BigInteger, nullable=False,
           server_default=text("CAST(CAST(pg_current_xact_id() AS text) AS bigint)")),
    Column("written_at", DateTime(timezone=True), nullable=False, server_default=text("clock_timestamp()")),
    Index("ix_stats_changes_key", "territory_code", "month", "changed"),
)
