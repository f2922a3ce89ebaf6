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


def masks(decisions: Iterable[tuple[str, str | None]]) -> tuple[int, int]:
    """The (kinds, reasons) masks of a call's ``(kind, other_reason)`` decisions."""
    kinds = reasons = 0
    for kind, reason in decisions:
        kinds |= KIND_BITS[kind]
        reasons |= REASON_BITS.get(reason or "", 0)
    return kinds, reasons
