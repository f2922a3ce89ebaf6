"""Expansion of a recurring availability into slots, in the local time of the site's territory.

Wall-clock times are kept across daylight-saving changes: "18:00 Europe/Paris" is 17:00 UTC in
winter and 16:00 UTC in summer. A local time that does not exist (the spring-forward gap) yields
no slot; an ambiguous one (the autumn fold) is taken at its first occurrence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

UTC = dt.UTC


@dataclass(frozen=True)
class Pattern:
    weekdays: frozenset[int]  # ISO: 1 = Monday ... 7 = Sunday
    start_time: dt.time
    end_time: dt.time
    slot_minutes: int
    valid_from: dt.date
    valid_until: dt.date | None
    timezone: str


def local_to_utc(day: dt.date, at: dt.time, zone: ZoneInfo) -> dt.datetime | None:
    """The UTC instant of a local wall-clock time, or None when that time does not exist that day."""
    local = dt.datetime.combine(day, at, tzinfo=zone)
    utc = local.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return utc


def occurrences(pattern: Pattern, window_start: dt.datetime, window_end: dt.datetime) -> Iterator[
    tuple[dt.datetime, dt.datetime]
]:
    """(start, end) in UTC of every slot of the pattern starting within [window_start, window_end)."""
    zone = ZoneInfo(pattern.timezone)
    first = max(pattern.valid_from, window_start.astimezone(zone).date())
    last = window_end.astimezone(zone).date()
    if pattern.valid_until is not None:
        last = min(last, pattern.valid_until)
    step = dt.timedelta(minutes=pattern.slot_minutes)
    day = first
    while day <= last:
        if day.isoweekday() in pattern.weekdays:
            yield from _day_slots(pattern, day, zone, step, window_start, window_end)
        day += dt.timedelta(days=1)


def _day_slots(
    pattern: Pattern, day: dt.date, zone: ZoneInfo, step: dt.timedelta,
    window_start: dt.datetime, window_end: dt.datetime,
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    cursor = dt.datetime.combine(day, pattern.start_time)
    stop = dt.datetime.combine(day, pattern.end_time)
    while cursor + step <= stop:
        start = local_to_utc(day, cursor.time(), zone)
        end = local_to_utc(day, (cursor + step).time(), zone)
        if start is not None and end is not None and end > start and window_start <= start < window_end:
            yield start, end
        cursor += step
