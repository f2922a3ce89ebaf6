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

# The work a calendar may ask for is decided before anything is expanded, from the rules alone
# (``check_budget``): an upper bound of the slots it gives within the horizon, at most ``max_slots``
# (each occurrence counts as the pieces ``slot_minutes`` cuts it into), and of the steps the recurrence
# library walks from each DTSTART to reach the horizon (an hourly rule starting in year 1 gives few
# slots but walks for ever). The expansion itself then stops at the horizon.
MAX_RECURRENCE_STEPS = 200_000
PERIOD_SECONDS = {"SECONDLY": 1, "MINUTELY": 60, "HOURLY": 3600, "DAILY": 86_400, "WEEKLY": 7 * 86_400,
                  "MONTHLY": 28 * 86_400, "YEARLY": 365 * 86_400}
SUB_DAILY = ("SECONDLY", "MINUTELY", "HOURLY")
# An SNP event longer than a slot may last is refused whole, never cut first.
MAX_EVENT = dt.timedelta(hours=12)
# Days each month may have (February's leap day included).
MONTH_DAYS = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}
EXPANDING = ("BYSECOND", "BYMINUTE", "BYHOUR", "BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH",
             "BYSETPOS")


class CalendarError(ValueError):
    """The body is not a calendar we can read."""


class CalendarTooLarge(CalendarError):
    """The calendar asks for more work than one import may take."""


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
    names: list[str] = []
    for item in _listed(event.get("CATEGORIES")):
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
    slot_minutes: int | None, max_slots: int = 5000,
) -> tuple[list[Occurrence], int]:
    """The slots of the SNP events starting in [window_start, window_end), and how many SNP events there are.

    Only the SNP events are expanded, and only once the work they ask for is known to be bounded; the
    expansion walks the occurrences in order of start and stops at the horizon."""
    _check_timezones(calendar)
    events = [e for e in calendar.walk("VEVENT") if is_snp(e)]
    snp_uids = {str(e.get("UID", "")) for e in events}
    check_budget(events, zone, window_start, window_end, max_slots, slot_minutes)
    only_snp = icalendar.Calendar()
    for event in events:
        only_snp.add_component(event)
    out: list[Occurrence] = []
    try:
        for event in recurring_ical_events.of(only_snp).after(window_start):
            start = _moment(event.get("DTSTART"), zone)
            if start is not None and start >= window_end:
                break
            uid = str(event.get("UID", ""))
            if uid not in snp_uids or not is_snp(event) or str(event.get("STATUS", "")).upper() == "CANCELLED":
                continue
            out.extend(_slots_of(event, uid, zone, window_start, window_end, slot_minutes))
            if len(out) > max_slots:  # the bound above is an upper bound: this never happens, but is never trusted
                raise CalendarTooLarge(f"the calendar gives more than {max_slots} slots within the horizon")
    except CalendarError:
        raise
    except Exception as exc:  # noqa: BLE001 - malformed recurrences surface here
        raise CalendarError(f"cannot expand the recurrences: {exc}") from exc
    out.sort(key=lambda o: (o.start or window_start, o.uid))
    return out, len({e.get("UID") for e in events})


def expand(
    body: bytes, zone_name: str, window_start: dt.datetime, window_end: dt.datetime, slot_minutes: int | None,
    max_slots: int,
) -> tuple[list[Occurrence], int]:
    """Parse and expand a calendar: the whole CPU-heavy part of an import, run in a worker process. Whatever
    the libraries raise on a malformed value (a broken property, a rule they cannot build) is the
    calendar's fault: a CalendarError, never an error of the service."""
    try:
        return occurrences(parse(body), ZoneInfo(zone_name), window_start, window_end, slot_minutes, max_slots)
    except (CalendarError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - untrusted input: the parser and the recurrence library raise anything
        raise CalendarError(f"cannot read the calendar ({type(exc).__name__}: {exc})") from None


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
    if slot_minutes is None or end - start > MAX_EVENT:
        return [Occurrence(uid, start, end)]  # one slot, refused as too long by the publishing rules
    step = dt.timedelta(minutes=slot_minutes)
    pieces, cursor = [], start
    while cursor + step <= end:
        pieces.append(Occurrence(uid, cursor, cursor + step))
        cursor += step
    return pieces or [Occurrence(uid, start, end, f"shorter than slot_minutes={slot_minutes}")]


def _listed(prop: Any) -> list[Any]:
    """A property that may appear once or several times (icalendar gives one value, or a list)."""
    if prop is None:
        return []
    return prop if isinstance(prop, list) else [prop]


def _moment(prop: Any, zone: ZoneInfo) -> dt.datetime | None:
    """A date-time (floating ones in the site's zone), or a date as its midnight UTC."""
    return _instant(prop, zone) or _date_start(prop)


def _instant(prop: Any, zone: ZoneInfo) -> dt.datetime | None:
    value = getattr(prop, "dt", prop)
    if not isinstance(value, dt.datetime):
        return None
    if value.tzinfo is None:  # floating time: the site's local time
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def check_budget(
    events: list[Any], zone: ZoneInfo, window_start: dt.datetime, window_end: dt.datetime, max_slots: int,
    slot_minutes: int | None = None,
) -> None:
    """Refuse (CalendarTooLarge) a calendar whose expansion would give more than ``max_slots`` slots within
    the window or walk more than MAX_RECURRENCE_STEPS steps, from its rules alone, before expanding it."""
    slots, steps = 0, 0
    for event in events:
        _check_times(event)
        uid = str(event.get("UID", ""))
        start = _moment(event.get("DTSTART"), zone)
        count = 0
        if start is not None and window_start <= start < window_end:
            count += 1  # DTSTART is always an occurrence
        for one in _listed(event.get("RRULE")):
            try:
                rule = Rule.read(dict(one), start, zone)
                count += rule.occurrences(window_start, window_end)
                steps += rule.steps(window_end)
            except CalendarError:
                raise
            except (OverflowError, ValueError, TypeError) as exc:
                raise CalendarError(f"event {uid!r}: a recurring SNP event has dates out of range: {exc}") from exc
        count += _rdates(event)
        slots += count * _pieces(event, zone, slot_minutes)
        if steps > MAX_RECURRENCE_STEPS:
            raise CalendarTooLarge(
                f"the recurrences would take more than {MAX_RECURRENCE_STEPS} steps to expand up to the publishing "
                f"horizon (event {uid!r}: give the rule an UNTIL, a later DTSTART or a longer FREQ)")
        if slots > max_slots:
            raise CalendarTooLarge(
                f"the calendar can give more than {max_slots} slots within the publishing horizon (up to "
                f"{slots} by event {uid!r} and those before it); at most {max_slots} per import: import fewer "
                "events, give the rules an UNTIL or a COUNT, or cut longer slots")


def _values(rule: dict[str, list[Any]], name: str) -> list[Any]:
    return list(rule.get(name) or [])


def _ordinal(day: Any) -> bool:
    """``2MO`` (the second Monday) names one day of a month or year; ``MO`` names every Monday."""
    return any(ch.isdigit() for ch in str(day))


@dataclass(frozen=True)
class Rule:
    """One RRULE of an SNP event, read and checked once: what the budget's arithmetic needs of it."""

    text: str
    freq: str
    interval: int
    start: dt.datetime
    until: dt.datetime | None
    count: int | None
    n: dict[str, int]  # how many values each BY-list has
    days_of_week: list[Any]

    @classmethod
    def read(cls, rule: dict[str, list[Any]], start: dt.datetime | None, zone: ZoneInfo) -> Rule:
        freq = str((rule.get("FREQ") or ["?"])[0]).upper()
        if freq not in PERIOD_SECONDS:
            raise CalendarError(f"RRULE has no valid FREQ ({freq})")
        try:
            interval = int((rule.get("INTERVAL") or [1])[0])
        except (TypeError, ValueError) as exc:
            raise CalendarError("RRULE INTERVAL is not a number") from exc
        if interval < 1:
            raise CalendarError(f"RRULE INTERVAL must be 1 or more (got {interval})")
        if start is None:
            raise CalendarError("a recurring SNP event needs a DTSTART")
        try:
            count = max(int(rule["COUNT"][0]), 0) if rule.get("COUNT") else None
        except (TypeError, ValueError) as exc:
            raise CalendarError("RRULE COUNT is not a number") from exc
        until = _moment(rule["UNTIL"][0], zone) if rule.get("UNTIL") else None
        read = cls(";".join(f"{k}={','.join(str(v) for v in values)}" for k, values in rule.items()), freq,
                   interval, start, until, count, {name: len(_values(rule, name)) for name in EXPANDING},
                   _values(rule, "BYDAY"))
        read.check_it_occurs(rule)
        return read

    def per_period(self) -> int:
        """An upper bound of the occurrences one period holds (what BYSETPOS then picks among): the dates
        its BY-lists can expand the period into, times the times of day (RFC 5545 §3.3.10)."""
        n = self.n
        if self.freq == "SECONDLY":
            return 1
        if self.freq == "MINUTELY":
            return max(n["BYSECOND"], 1)
        if self.freq == "HOURLY":
            return max(n["BYMINUTE"], 1) * max(n["BYSECOND"], 1)
        if self.freq == "DAILY":
            dates = 1
        elif self.freq == "WEEKLY":
            dates = min(max(n["BYDAY"], 1), 7)
        elif self.freq == "MONTHLY":
            dates = n["BYMONTHDAY"] or sum(1 if _ordinal(d) else 5 for d in self.days_of_week) or 1
        elif n["BYYEARDAY"]:
            dates = n["BYYEARDAY"]
        elif n["BYWEEKNO"]:
            dates = 7 * n["BYWEEKNO"]
        else:
            months = n["BYMONTH"] or (12 if n["BYMONTHDAY"] or n["BYDAY"] else 1)
            dates = months * (n["BYMONTHDAY"] or sum(1 if _ordinal(d) else 5 for d in self.days_of_week) or 1)
        return min(dates, 366) * max(n["BYHOUR"], 1) * max(n["BYMINUTE"], 1) * max(n["BYSECOND"], 1)

    def check_it_occurs(self, rule: dict[str, list[Any]]) -> None:
        """Refuse a rule whose filters no date can meet (the 30th of February, a 6th Monday): the recurrence
        library would walk day after day up to the year 9999 looking for its next occurrence."""
        try:
            months = [int(m) for m in _values(rule, "BYMONTH")] or list(MONTH_DAYS)
            days = [int(d) for d in _values(rule, "BYMONTHDAY")]
            positions = [abs(int(p)) for p in _values(rule, "BYSETPOS")]
        except (TypeError, ValueError) as exc:
            raise CalendarError("RRULE BYMONTH, BYMONTHDAY and BYSETPOS are numbers") from exc
        longest = max((MONTH_DAYS.get(m, 0) for m in months), default=0)
        if days and all(abs(d) > longest for d in days):
            raise CalendarError(f"RRULE {self.text} never occurs (no such day in its months)")
        if positions and max(positions) > self.per_period():
            raise CalendarError(f"RRULE {self.text} never occurs (BYSETPOS beyond the dates of a period)")

    def occurrences(self, window_start: dt.datetime, window_end: dt.datetime) -> int:
        """An upper bound of the occurrences in [window_start, window_end), by arithmetic only: the periods
        that meet the window times what each holds, capped by the days and times the window holds, by
        COUNT and by BYSETPOS."""
        low = max(window_start, self.start)
        high = window_end if self.until is None else min(window_end, self.until + dt.timedelta(seconds=1))
        if high <= low:
            return 0
        span = (high - low).total_seconds()
        days = int(span // 86_400) + 2  # calendar days the window touches
        n = self.n
        if self.freq in SUB_DAILY:
            periods = int(span // (PERIOD_SECONDS[self.freq] * self.interval)) + 1
            per_day = ((n["BYHOUR"] or 24) * (n["BYMINUTE"] or (60 if self.freq != "HOURLY" else 1))
                       * (n["BYSECOND"] or (60 if self.freq == "SECONDLY" else 1)))
            bound = min(periods * self.per_period(), days * per_day)
        else:
            periods = int(span // (PERIOD_SECONDS[self.freq] * self.interval)) + 2  # months, years: ≥ 28, 365 days
            times = max(n["BYHOUR"], 1) * max(n["BYMINUTE"], 1) * max(n["BYSECOND"], 1)
            bound = min(periods * (self.per_period() // times), days) * times
        if n["BYSETPOS"]:
            bound = min(bound, periods * n["BYSETPOS"])
        return bound if self.count is None else min(bound, self.count)

    def steps(self, window_end: dt.datetime) -> int:
        """An upper bound of the steps the recurrence library walks from DTSTART to the horizon (or UNTIL)."""
        end = window_end if self.until is None else min(window_end, self.until)
        span = max((end - self.start).total_seconds(), 0)
        steps = int(span // (PERIOD_SECONDS[self.freq] * self.interval)) + 1
        for value in self.n.values():
            steps *= max(value, 1)
        return steps


def _rdates(event: Any) -> int:
    """How many dates the event's RDATE lines add (an upper bound: all of them, wherever they fall)."""
    return sum(len(getattr(item, "dts", [item])) for item in _listed(event.get("RDATE")))


def _pieces(event: Any, zone: ZoneInfo, slot_minutes: int | None) -> int:
    """How many slots one occurrence is cut into (its times read as the expansion reads them)."""
    if slot_minutes is None:
        return 1
    start, end = _instant(event.get("DTSTART"), zone), _instant(event.get("DTEND"), zone)
    if start is not None and end is not None:
        length = end - start
    else:
        duration = getattr(event.get("DURATION"), "dt", None)
        length = duration if isinstance(duration, dt.timedelta) else dt.timedelta(0)
    return max(int(length.total_seconds() // (slot_minutes * 60)), 1)


# A time zone's changes recur once a year: a VTIMEZONE of another rhythm (or of thousands of dates) is no
# time zone, and expanding it would walk its rule from its DTSTART to the horizon.
MAX_ZONE_PARTS = 200


def _check_timezones(calendar: icalendar.Calendar) -> None:
    parts = [part for zone in calendar.walk("VTIMEZONE") for part in zone.subcomponents]
    if len(parts) > MAX_ZONE_PARTS:
        raise CalendarTooLarge(f"the calendar's time zones have {len(parts)} parts; at most {MAX_ZONE_PARTS}")
    for part in parts:
        for one in _listed(part.get("RRULE")):
            freq = str((dict(one).get("FREQ") or ["?"])[0]).upper()
            if freq != "YEARLY":
                raise CalendarError(f"a VTIMEZONE rule recurs {freq.lower()}: a time zone's changes recur yearly")
        if _rdates(part) > MAX_ZONE_PARTS:
            raise CalendarTooLarge(f"a VTIMEZONE lists more than {MAX_ZONE_PARTS} dates")


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
    duration = getattr(event.get("DURATION"), "dt", None)
    if isinstance(duration, dt.timedelta) and duration < dt.timedelta(0):
        raise CalendarError(f"event {uid!r} ends before it starts (a negative DURATION)")


def _date_start(prop: Any) -> dt.datetime | None:
    value = getattr(prop, "dt", prop)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day, tzinfo=UTC)
    return None
