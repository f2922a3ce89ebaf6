"""The bookings domain's refusals."""

from __future__ import annotations

from app.platform.errors import Conflict


class SlotTaken(Conflict):
    """The slot is booked, withdrawn, started, or held by another call."""


class CallClosed(Conflict):
    """The call is closed: nothing more is booked for it."""


class NotHeld(Conflict):
    """The slot is not held by this call."""


class PractitionerBusy(Conflict):
    """An over-capacity appointment overlaps a slot or an appointment of the doctor."""


class NoOverCapacity(Conflict):
    """The doctor has not said he accepts over-capacity appointments."""


class CallBooked(Conflict):
    """The call already has an active booking, and the new one neither replaces it nor says ``also``."""
