"""The bookings domain's refusals."""

from __future__ import annotations

from app.errors import Conflict


class SlotTaken(Conflict):
    """The slot is booked, withdrawn, started, or held by another call."""


class CallClosed(Conflict):
    """The call is closed: nothing more is booked for it."""


class NotHeld(Conflict):
    """The slot is not held by this call."""
