"""When the patient is reminded of his appointment: ``SNP_REMINDER_BEFORE`` before it (2 h by default), never at
night in the territory's local time.

- None if the booking was made less than that before the start (the confirmation has just told him).
- The night is 21:00 to 08:00, local time. A reminder that would fall in it is for an appointment that is soon
  (that night or the next morning): it goes instead at the last moment before that night, 20:45, or not at all if
  the booking was made after that moment.
- A reminder not delivered by the start of the night that follows its time, or by the appointment's start, is
  given up (``failed``): it is never sent late at night, nor after the appointment began.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

NIGHT_STARTS = dt.time(21, 0)
NIGHT_ENDS = dt.time(8, 0)
# The last moment before the night a reminder is given at, early enough for a sender a little behind.
EVENING = dt.time(20, 45)


def at_night(local: dt.datetime) -> bool:
    return local.time() >= NIGHT_STARTS or local.time() < NIGHT_ENDS


def _local(day: dt.date, at: dt.time, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, at, tzinfo=zone)


def due(start: dt.datetime, booked_at: dt.datetime, before: dt.timedelta, timezone: str) -> tuple[
        dt.datetime, dt.datetime] | None:
    """When the reminder of an appointment at ``start``, booked at ``booked_at``, goes and when it is given up;
    None when there is none."""
    at = start - before
    if at <= booked_at:
        return None
    zone = ZoneInfo(timezone)
    local = at.astimezone(zone)
    if not at_night(local):
        return at, min(start, _local(local.date(), NIGHT_STARTS, zone).astimezone(dt.UTC))
    evening = local.date() if local.time() >= NIGHT_STARTS else local.date() - dt.timedelta(days=1)
    moved = _local(evening, EVENING, zone).astimezone(dt.UTC)
    if moved <= booked_at:
        return None
    return moved, min(start, _local(evening, NIGHT_STARTS, zone).astimezone(dt.UTC))
