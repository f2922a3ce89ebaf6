"""The MT queue's refusals: a conflict found by code reads like one found by the database."""

from __future__ import annotations

from app.platform.errors import Conflict


class CapacityExhausted(Conflict):
    """The doctor has no capacity left this month: he accepted his ``per_month`` new patients."""


class AlreadyPlaced(Conflict):
    """Another doctor accepted this patient already."""


class WrongState(Conflict):
    """The request or the proposal is not in a state where this may be done."""


class SlotTaken(Conflict):
    """The access consultation is no longer free (taken, held, withdrawn or past)."""


class NotAccepting(Conflict):
    """The doctor does not take new patients (any longer)."""
