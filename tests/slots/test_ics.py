from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import httpx

from tests.slots.helpers import calendar, doctor, monday_in, slot, stamp

PARIS = ZoneInfo("Europe/Paris")








async def _import(client, doc, body: str, **params) -> httpx.Response:
    return await client.post("/v1/slots/import-ics", content=body.encode(), params={"site_id": doc.site_id, **params},
                             headers={**doc.headers, "Content-Type": "text/calendar"})


class TestImportCalendar:
    async def test_a_recurring_snp_event_with_an_exception_date_gives_one_slot_per_remaining_occurrence(
        self, client: httpx.AsyncClient, auth
    ):
        doc = await doctor(client, auth)
        first = monday_in(1)
        response = await _import(client, doc, calendar(first, exdate=first + dt.timedelta(weeks=2)))
        assert response.status_code == 201, response.text
        assert response.json()["events"] == 2 and response.json()["created"] == 4
        mine = (await client.get("/v1/slots", headers=doc.headers)).json()
        weekly = [s for s in mine if dt.datetime.fromisoformat(s["start"]).astimezone(PARIS).hour == 18]
        days = [dt.datetime.fromisoformat(s["start"]).astimezone(PARIS).date() for s in weekly]
        assert days == [first, first + dt.timedelta(weeks=1), first + dt.timedelta(weeks=3)]
        assert {s["source"] for s in mine} == {"ics"}
        once = [s for s in mine if s not in weekly]
        assert [dt.datetime.fromisoformat(s["start"]).astimezone(dt.UTC).hour for s in once] == [12]

    async def test_re_importing_the_same_file_creates_nothing_twice(self, client, auth):
        doc = await doctor(client, auth)
        body = calendar(monday_in(1))
        assert (await _import(client, doc, body)).json()["created"] == 5
        again = await _import(client, doc, body)
        assert again.status_code == 201, again.text
        assert (again.json()["created"], again.json()["skipped"]) == (0, 5)
        assert len((await client.get("/v1/slots", headers=doc.headers)).json()) == 5

    async def test_slot_minutes_cuts_each_event_into_slots(self, client, auth):
        doc = await doctor(client, auth)
        response = await _import(client, doc, calendar(monday_in(1)), slot_minutes=15)
        assert response.json()["created"] == 4 * 2 + 4

    async def test_an_occurrence_overlapping_a_published_slot_is_409_and_nothing_is_imported(self, client, auth):
        doc = await doctor(client, auth)
        first = monday_in(1)
        taken = dt.datetime.combine(first + dt.timedelta(weeks=1), dt.time(18, 15), tzinfo=PARIS)
        existing = (await client.post("/v1/slots", json=slot(doc.site_id, taken), headers=doc.headers)).json()
        response = await _import(client, doc, calendar(first))
        assert response.status_code == 409
        (rejected,) = response.json()["rejected"]
        assert rejected["conflicting_slot_id"] == existing["id"] and rejected["uid"] == "weekly-snp@cabinet"
        assert len((await client.get("/v1/slots", headers=doc.headers)).json()) == 1

    async def test_an_snp_event_longer_than_12_hours_is_422_naming_its_uid(self, client, auth):
        doc = await doctor(client, auth)
        day = monday_in(2)
        long = ("BEGIN:VEVENT\r\nUID:garde@cabinet\r\nSUMMARY:Garde SNP\r\n"
                f"DTSTART:{stamp(day, 6)}Z\r\nDTEND:{stamp(day, 19)}Z\r\nEND:VEVENT\r\n")
        response = await _import(client, doc, calendar(monday_in(1), extra=long))
        assert response.status_code == 422
        assert [(r["uid"], r["field"]) for r in response.json()["rejected"]] == [("garde@cabinet", "end")]
        assert (await client.get("/v1/slots", headers=doc.headers)).json() == []

    async def test_a_body_that_is_not_a_calendar_is_422(self, client, auth):
        doc = await doctor(client, auth)
        response = await _import(client, doc, "hello")
        assert response.status_code == 422 and response.json()["field"] == "body"

    async def test_an_empty_body_is_422(self, client, auth):
        doc = await doctor(client, auth)
        response = await _import(client, doc, "")
        assert response.status_code == 422 and response.json()["field"] == "body"


def _hostile(rrule: str, dtstart: str = "20260101T080000Z", dtend: str = "20260101T081500Z", events: int = 1) -> str:
    body = "".join(
        f"BEGIN:VEVENT\r\nUID:hostile-{n}@x\r\nSUMMARY:SNP\r\nDTSTART:{dtstart}\r\nDTEND:{dtend}\r\n{rrule}END:VEVENT\r\n"
        for n in range(events)
    )
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//x//FR\r\n{body}END:VCALENDAR\r\n"


class TestCalendarBudget:
    """Each of these froze the server (no answer, memory growing) before the work was bounded up front.
    The bound here is generous on purpose; the real latencies are a few milliseconds."""

    async def test_calendars_that_would_expand_for_ever_are_refused_at_once_and_health_still_answers(
        self, client: httpx.AsyncClient, auth
    ):
        import time

        doc = await doctor(client, auth)
        future = monday_in(1)
        cases = {
            "secondly without end": _hostile("RRULE:FREQ=SECONDLY\r\n"),
            "minutely without end": _hostile("RRULE:FREQ=MINUTELY\r\n"),
            "500 minutely events": _hostile("RRULE:FREQ=MINUTELY\r\n", events=500),
            "hourly from year 1": _hostile("RRULE:FREQ=HOURLY\r\n", dtstart="00010101T080000Z",
                                           dtend="00010101T081500Z"),
            "daily, every second of the day": _hostile(
                "RRULE:FREQ=DAILY;BYHOUR=" + ",".join(map(str, range(24))) + ";BYMINUTE="
                + ",".join(map(str, range(60))) + ";BYSECOND=" + ",".join(map(str, range(60))) + "\r\n"),
            "6 000 events at one time": _hostile("", dtstart=stamp(future, 8) + "Z", dtend=stamp(future, 9) + "Z",
                                                 events=6000),
        }
        for name, body in cases.items():
            began = time.monotonic()
            response = await _import(client, doc, body)
            assert response.status_code == 422, (name, response.text)
            assert response.json()["field"] == "body", name
            assert time.monotonic() - began < 10, name
            assert (await client.get("/health")).status_code == 200
        assert (await client.get("/v1/slots", headers=doc.headers)).json() == []

    async def test_a_daily_rule_without_end_is_expanded_up_to_the_horizon_only(
        self, client: httpx.AsyncClient, auth, settings
    ):
        doc = await doctor(client, auth)
        first = monday_in(1)
        body = _hostile("RRULE:FREQ=DAILY\r\n", dtstart=stamp(first, 8) + "Z", dtend=stamp(first, 8, 20) + "Z")
        response = await _import(client, doc, body)
        assert response.status_code == 201, response.text
        assert 0 < response.json()["created"] <= settings.slot_horizon_days + 1


class TestStrictCalendars:
    """What used to be read loosely is refused, naming the event."""

    async def test_loose_events_are_refused_rather_than_guessed(self, client: httpx.AsyncClient, auth):
        doc = await doctor(client, auth)
        day = monday_in(1)
        cases = {
            "ends before it starts": _hostile("", dtstart=stamp(day, 10) + "Z", dtend=stamp(day, 9) + "Z"),
            "unknown time zone": _hostile("").replace(
                "DTSTART:20260101T080000Z", f"DTSTART;TZID=Mars/Olympus:{stamp(day, 10)}").replace(
                "DTEND:20260101T081500Z", f"DTEND;TZID=Mars/Olympus:{stamp(day, 11)}"),
            "a rule that is no rule": _hostile("RRULE:garbage\r\n", dtstart=stamp(day, 10) + "Z",
                                               dtend=stamp(day, 11) + "Z"),
        }
        said = {"ends before it starts": "ends before it starts", "unknown time zone": "Mars/Olympus",
                "a rule that is no rule": "FREQ"}
        for name, body in cases.items():
            response = await _import(client, doc, body)
            assert response.status_code == 422 and response.json()["field"] == "body", (name, response.text)
            assert said[name] in response.json()["detail"], (name, response.text)
        assert (await client.get("/v1/slots", headers=doc.headers)).json() == []

    async def test_a_calendar_sent_as_json_is_415(self, client: httpx.AsyncClient, auth):
        doc = await doctor(client, auth)
        body = calendar(monday_in(1)).encode()
        response = await client.post("/v1/slots/import-ics", content=body, params={"site_id": doc.site_id},
                                     headers={**doc.headers, "Content-Type": "application/json"})
        assert response.status_code == 415 and response.json()["field"] == "Content-Type"


class TestWhatAHostileRunFound:
    """Each answered 422 at once, naming the body; before, some froze a worker for seconds, some were 500."""

    async def test_rules_that_never_occur_malformed_values_and_odd_zones_are_refused_at_once(
        self, client: httpx.AsyncClient, auth
    ):
        import time

        doc = await doctor(client, auth)
        day = monday_in(1)
        start, end = stamp(day, 9) + "Z", stamp(day, 9, 20) + "Z"
        evil_zone = ("BEGIN:VTIMEZONE\r\nTZID:Evil\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\n"
                     "RRULE:FREQ=SECONDLY\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n")
        cases = {
            "the 30th of February, daily": _hostile("RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30\r\n", start, end),
            "a 6th Monday": _hostile("RRULE:FREQ=MONTHLY;BYDAY=MO;BYSETPOS=40\r\n", start, end),
            "an interval of 26 digits": _hostile("RRULE:FREQ=DAILY;INTERVAL=" + "9" * 26 + "\r\n", start, end),
            "a count of 24 digits": _hostile("RRULE:FREQ=DAILY;COUNT=" + "9" * 24 + "\r\n", start, end),
            "no such frequency": _hostile("RRULE:FREQ=FORTNIGHTLY\r\n", start, end),
            "no such week start": _hostile("RRULE:FREQ=WEEKLY;WKST=XX;BYDAY=MO\r\n", start, end),
            "an RDATE that is no date": _hostile("RDATE:notadate\r\n", start, end),
            "a negative duration": _hostile("", start, end).replace(f"DTEND:{end}", "DURATION:-PT20M"),
            "a floating start, an end 20 years on": _hostile("", stamp(day, 8), "20461220T080000Z"),
            "a time zone recurring every second": _hostile("", start, end).replace(
                "BEGIN:VEVENT", evil_zone + "BEGIN:VEVENT", 1).replace(
                f"DTSTART:{start}", f"DTSTART;TZID=Evil:{stamp(day, 9)}").replace(
                f"DTEND:{end}", f"DTEND;TZID=Evil:{stamp(day, 9, 20)}"),
        }
        for name, body in cases.items():
            began = time.monotonic()
            response = await _import(client, doc, body, slot_minutes=5)
            took = time.monotonic() - began
            assert response.status_code == 422, (name, response.status_code, response.text)
            assert response.json()["field"] == "body", (name, response.text)
            assert took < 2, (name, took)
        assert (await client.get("/v1/slots", headers=doc.headers)).json() == []
