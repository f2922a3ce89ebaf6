"""iCalendar import: which events are SNP availability, and the slots their occurrences give.

An event is SNP availability when its CATEGORIES contain ``SNP`` or its SUMMARY contains the word
``SNP`` (any case). Recurrences (RRULE, RDATE, EXDATE, modified occurrences) are expanded by
``recurring-ical-events``. Each occurrence becomes one slot, or, with ``slot_minutes``, is cut into
consecutive slots of that length (a shorter remainder is dropped). Its identity is
``<UID>|<start in UTC>``, so importing the same calendar again creates nothing twice.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

KEYWORD = re.compile(r"\bSNP\b", re.IGNORECASE)
UTC = dt.UTC

# The work a calendar may ask for, checked before anything is expanded: a recurrence is walked from
# its DTSTART, one step per period (times each BY* value), so a rule of FREQ=SECONDLY without end, or
# an hourly rule starting in year 1, would freeze the server. Past this many steps in all, the calendar
# is refused at once.
MAX_RECURRENCE_STEPS = 200_000
PERIOD_SECONDS = {"SECONDLY": 1, "MINUTELY": 60, "HOURLY": 3600, "DAILY": 86_400, "WEEKLY": 7 * 86_400,
                  "MONTHLY": 28 * 86_400, "YEARLY": 365 * 86_400}
EXPANDING = ("BYSECOND", "BYMINUTE", "BYHOUR", "BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH",
             "BYSETPOS")


class CalendarError(ValueError):
    """The body is not a calendar we can read."""


@dataclass(frozen=True)
class Occurrence:
    uid: str
    start: dt.datetime | None
    end: dt.datetime | None
    problem: str | None = None

    @property
    def key(self) -> str:
        stamp = self.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if self.start else "?"
        return f"ics:{self.uid}|{stamp}"


def is_snp(event: Any) -> bool:
    if KEYWORD.search(str(event.get("SUMMARY", ""))):
        return True
    return any(c.strip().upper() == "SNP" for c in _categories(event))


def _categories(event: Any) -> list[str]:
    raw = event.get("CATEGORIES")
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    names: list[str] = []
    for item in items:
        names.extend(str(c) for c in getattr(item, "cats", [item]))
    return names


def parse(body: bytes) -> icalendar.Calendar:
    try:
        calendar = icalendar.Calendar.from_ical(body)
    except Exception as exc:  # noqa: BLE001 - the parser raises many kinds of errors on bad input
        raise CalendarError(f"not a readable iCalendar file: {exc}") from exc
    if getattr(calendar, "name", None) != "VCALENDAR":
        raise CalendarError("not an iCalendar file (no VCALENDAR)")
    return calendar


def occurrences(
    calendar: icalendar.Calendar, zone: ZoneInfo, window_start: dt.datetime, window_end: dt.datetime,
    slot_minutes: int | None, max_occurrences: int = 5000,
) -> tuple[list[Occurrence], int]:
    """The slots of the SNP events starting in [window_start, window_end), and how many SNP events there are.

    Only the SNP events are expanded, and only once the work they ask for is known to be bounded."""
    events = [e for e in calendar.walk("VEVENT") if is_snp(e)]
    snp_uids = {str(e.get("UID", "")) for e in events}
    check_budget(events, zone, window_start, window_end, max_occurrences)
    only_snp = icalendar.Calendar()
    for event in events:
        only_snp.add_component(event)
    try:
        found = recurring_ical_events.of(only_snp).between(window_start, window_end)
    except Exception as exc:  # noqa: BLE001 - malformed recurrences surface here
        raise CalendarError(f"cannot expand the recurrences: {exc}") from exc
    out: list[Occurrence] = []
    for event in found:
        uid = str(event.get("UID", ""))
        if uid not in snp_uids or not is_snp(event) or str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        out.extend(_slots_of(event, uid, zone, window_start, window_end, slot_minutes))
    out.sort(key=lambda o: (o.start or window_start, o.uid))
    return out, len({e.get("UID") for e in events})


def _slots_of(
    event: Any, uid: str, zone: ZoneInfo, window_start: dt.datetime, window_end: dt.datetime,
    slot_minutes: int | None,
) -> list[Occurrence]:
    if not uid:
        return [Occurrence("", None, None, "an SNP event without UID cannot be imported idempotently")]
    start, end = _instant(event.get("DTSTART"), zone), _instant(event.get("DTEND"), zone)
    if start is None or end is None:
        return [Occurrence(uid, None, None, "an all-day event or an event without an end time is not a slot")]
    if not window_start <= start < window_end:
        return []
    if slot_minutes is None:
        return [Occurrence(uid, start, end)]
    step = dt.timedelta(minutes=slot_minutes)
    pieces, cursor = [], start
    while cursor + step <= end:
        pieces.append(Occurrence(uid, cursor, cursor + step))
        cursor += step
    return pieces or [Occurrence(uid, start, end, f"shorter than slot_minutes={slot_minutes}")]


def _instant(prop: Any, zone: ZoneInfo) -> dt.datetime | None:
    value = getattr(prop, "dt", prop)
    if not isinstance(value, dt.datetime):
        return None
    if value.tzinfo is None:  # floating time: the site's local time
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def check_budget(
    events: list[Any], zone: ZoneInfo, window_start: dt.datetime, window_end: dt.datetime, max_occurrences: int
) -> None:
    """Refuse (CalendarError) a calendar whose expansion would exceed the budget, before expanding it."""
    steps, single = 0, 0
    for event in events:
        _check_times(event)
        rule = event.get("RRULE")
        if rule is None:
            start = _instant(event.get("DTSTART"), zone)
            if start is not None and window_start <= start < window_end:
                single += 1
            continue
        for one in rule if isinstance(rule, list) else [rule]:
            try:
                steps += _steps(event, dict(one), zone, window_end)
            except CalendarError:
                raise
            except (OverflowError, ValueError) as exc:
                raise CalendarError(f"a recurring SNP event has dates out of range: {exc}") from exc
        if steps > MAX_RECURRENCE_STEPS:
            uid = str(event.get("UID", ""))
            raise CalendarError(
                f"the recurrences would take more than {MAX_RECURRENCE_STEPS} steps to expand up to the publishing "
                f"horizon (event {uid!r}: give the rule an UNTIL, a later DTSTART or a longer FREQ)")
    if single > max_occurrences:
        raise CalendarError(f"the calendar has {single} SNP events within the horizon; at most {max_occurrences} "
                            "per import")


def _check_times(event: Any) -> None:
    """An event's times as written: a time zone we know, an end after the start (never swapped)."""
    uid = str(event.get("UID", ""))
    for name in ("DTSTART", "DTEND"):
        prop = event.get(name)
        tzid = getattr(prop, "params", {}).get("TZID") if prop is not None else None
        value = getattr(prop, "dt", None)
        if tzid and isinstance(value, dt.datetime) and value.tzinfo is None:
            raise CalendarError(f"event {uid!r}: unknown time zone {tzid!r} in {name} (an IANA zone, or a "
                                "VTIMEZONE in the calendar)")
    start, end = getattr(event.get("DTSTART"), "dt", None), getattr(event.get("DTEND"), "dt", None)
    if isinstance(start, dt.datetime) and isinstance(end, dt.datetime) \
            and (start.tzinfo is None) == (end.tzinfo is None) and end < start:
        raise CalendarError(f"event {uid!r} ends before it starts")


def _steps(event: Any, rule: dict[str, list[Any]], zone: ZoneInfo, window_end: dt.datetime) -> int:
    """An upper bound of the steps the recurrence library walks from DTSTART to the horizon (or UNTIL)."""
    freq = str((rule.get("FREQ") or ["?"])[0]).upper()
    if freq not in PERIOD_SECONDS:
        raise CalendarError(f"RRULE has no valid FREQ ({freq})")
    start = _instant(event.get("DTSTART"), zone) or _date_start(event.get("DTSTART"))
    if start is None:
        raise CalendarError("a recurring SNP event needs a DTSTART")
    end = window_end
    until = rule.get("UNTIL")
    if until:
        until_at = _instant(until[0], zone) or _date_start(until[0])
        if until_at is not None:
            end = min(end, until_at)
    try:
        interval = max(int((rule.get("INTERVAL") or [1])[0]), 1)
    except (TypeError, ValueError) as exc:
        raise CalendarError("RRULE INTERVAL is not a number") from exc
    span = max((end - start).total_seconds(), 0)
    steps = int(span // (PERIOD_SECONDS[freq] * interval)) + 1
    for name in EXPANDING:
        steps *= max(len(rule.get(name) or []), 1)
    return steps


def _date_start(prop: Any) -> dt.datetime | None:
    value = getattr(prop, "dt", prop)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day, tzinfo=UTC)
    return None
