from __future__ import annotations

from app.platform.errors import Unprocessable


class CalendarTooLarge(Unprocessable):
    """A calendar asks for more work than one import may take (slots, recurrence steps, time or memory)."""
