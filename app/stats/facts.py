"""The decision facts kept on each call's row: bit masks of its decision kinds and `other` reasons.

PostgreSQL maintains ``calls.decision_kinds`` and ``calls.other_reasons`` itself (statement-level
triggers on ``decisions``, migration 0005), in the transaction that writes the decisions, whatever
code writes them; direct writes to the masks are refused. The bits below are the migration's.
"""

from __future__ import annotations

from collections.abc import Iterable

KIND_BITS = {"advice": 1, "slot": 2, "prescription": 4, "other": 8}
REASON_BITS = {"no_answer": 1, "redirected_15": 2, "redirected_ed": 4, "other": 8}
# Decisions that send the patient to the ED or the 15: the visit was not avoided.
NOT_AVOIDED_REASONS = ("redirected_ed", "redirected_15")
NOT_AVOIDED_MASK = sum(REASON_BITS[r] for r in NOT_AVOIDED_REASONS)


# The report's counters of calls, each with the condition on a calls row ``c`` that counts it: the one
# list the report reads, call by call (``CALLS_SQL``) or from the rollup's cells, whose columns
# migration 0007 created in this order (a test holds the two together).
COUNTERS = {
    "calls": "true",
    "channel_15": "c.channel = '15'",
    "channel_116117": "c.channel = '116117'",
    "channel_urgences": "c.channel = 'urgences'",
    "channel_professionnel": "c.channel = 'professionnel'",
    "channel_autre": "c.channel = 'autre'",
    "advice": f"c.decision_kinds & {KIND_BITS['advice']} <> 0",
    "slot": f"c.decision_kinds & {KIND_BITS['slot']} <> 0",
    "prescription": f"c.decision_kinds & {KIND_BITS['prescription']} <> 0",
    "other": f"c.decision_kinds & {KIND_BITS['other']} <> 0",
    "other_no_answer": f"c.other_reasons & {REASON_BITS['no_answer']} <> 0",
    "other_redirected_15": f"c.other_reasons & {REASON_BITS['redirected_15']} <> 0",
    "other_redirected_ed": f"c.other_reasons & {REASON_BITS['redirected_ed']} <> 0",
    "other_other": f"c.other_reasons & {REASON_BITS['other']} <> 0",
    # two distinct kinds or more: more than one bit set
    "several": "c.decision_kinds & (c.decision_kinds - 1) <> 0",
    "without_decision": "c.decision_kinds = 0",
    "intent_urgences": "c.intent_without_sas = 'urgences'",
    "avoided_declared": f"c.intent_without_sas = 'urgences' AND c.other_reasons & {NOT_AVOIDED_MASK} = 0",
}


def delay_minute(row: str | None = None) -> str:
    """The callback delay in minutes, rounded up (a delay is ≤ N minutes exactly when this is ≤ N), of
    the calls row ``row`` (unqualified when None). The index ``ix_stats_calls_delay`` is on this very
    expression: the report's statements and the index's definition both take it from here."""
    at = f"{row}." if row else ""
    return f"CAST(ceil(EXTRACT(epoch FROM {at}first_callback_at - {at}received_at) / 60) AS integer)"


def masks(decisions: Iterable[tuple[str, str | None]]) -> tuple[int, int]:
    """The (kinds, reasons) masks of a call's ``(kind, other_reason)`` decisions."""
    kinds = reasons = 0
    for kind, reason in decisions:
        kinds |= KIND_BITS[kind]
        reasons |= REASON_BITS.get(reason or "", 0)
    return kinds, reasons
