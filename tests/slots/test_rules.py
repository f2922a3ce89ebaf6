from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import httpx
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import text

from app.slots import rules
from tests.slots.helpers import doctor, slot

PARIS = ZoneInfo("Europe/Paris")


def last_sunday(year: int, month: int) -> dt.date:
    day = dt.date(year, month + 1, 1) - dt.timedelta(days=1)
    return day - dt.timedelta(days=day.isoweekday() % 7)


def next_last_sunday(month: int, after: dt.date) -> dt.date:
    found = last_sunday(after.year, month)
    return found if found > after else last_sunday(after.year + 1, month)


def rule_body(site_id: str, **fields) -> dict:
    return {"site_id": site_id, "mode": "in_person", "weekdays": [2, 4], "start_time": "18:00", "end_time": "20:00",
            "slot_minutes": 20, "valid_from": dt.date.today().isoformat(), **fields}


async def live_slots(client, doc) -> list[dict]:
    rows = (await client.get("/v1/slots?limit=1000", headers=doc.headers)).json()
    return [s for s in rows if s["state"] != "withdrawn"]


def local(value: str, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.fromisoformat(value).astimezone(zone)


class TestCreateRule:
    async def test_tuesdays_and_thursdays_18_to_20_give_six_slots_each_day_up_to_the_horizon(
        self, client: httpx.AsyncClient, auth
    ):
        doc = await doctor(client, auth)
        response = await client.post("/v1/availability-rules", json=rule_body(doc.site_id), headers=doc.headers)
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["timezone"] == "Europe/Paris" and body["revision"] == 1 and body["weekdays"] == [2, 4]
        slots = await live_slots(client, doc)
        assert body["slots_created"] == len(slots) > 0
        assert len(slots) % 6 == 0 and 25 * 6 <= len(slots) <= 27 * 6
        for s in slots:
            start = local(s["start"], PARIS)
            assert start.isoweekday() in (2, 4) and dt.time(18) <= start.time() < dt.time(20)
            assert s["source"] == "rule" and s["rule_id"] == body["id"]
        last = max(dt.datetime.fromisoformat(s["start"]) for s in slots)
        assert last <= dt.datetime.now(dt.UTC) + dt.timedelta(days=90)

    async def test_valid_until_bounds_the_expansion(self, client, auth):
        doc = await doctor(client, auth)
        until = dt.date.today() + dt.timedelta(days=14)
        body = rule_body(doc.site_id, weekdays=[1, 2, 3, 4, 5, 6, 7], valid_until=until.isoformat())
        await client.post("/v1/availability-rules", json=body, headers=doc.headers)
        slots = await live_slots(client, doc)
        assert max(local(s["start"], PARIS).date() for s in slots) == until

    async def test_an_end_time_before_the_start_time_is_422(self, client, auth):
        doc = await doctor(client, auth)
        response = await client.post("/v1/availability-rules", json=rule_body(doc.site_id, end_time="17:00"),
                                     headers=doc.headers)
        assert response.status_code == 422 and "end_time" in response.json()["detail"]

    async def test_a_weekday_out_of_1_to_7_is_422(self, client, auth):
        doc = await doctor(client, auth)
        response = await client.post("/v1/availability-rules", json=rule_body(doc.site_id, weekdays=[0]),
                                     headers=doc.headers)
        assert response.status_code == 422 and response.json()["field"] == "weekdays"

    async def test_a_rule_overlapping_a_published_slot_is_409_and_writes_nothing(self, client, auth):
        doc = await doctor(client, auth)
        days_to_tuesday = (2 - dt.date.today().isoweekday()) % 7 or 7
        tuesday = dt.datetime.combine(dt.date.today() + dt.timedelta(days=days_to_tuesday), dt.time(18, 30),
                                      tzinfo=PARIS)
        existing = (await client.post("/v1/slots", json=slot(doc.site_id, tuesday), headers=doc.headers)).json()
        response = await client.post("/v1/availability-rules", json=rule_body(doc.site_id), headers=doc.headers)
        assert response.status_code == 409
        assert response.json()["rejected"][0]["conflicting_slot_id"] == existing["id"]
        assert len(await live_slots(client, doc)) == 1
        assert (await client.get("/v1/availability-rules", headers=doc.headers)).json() == []


class TestDaylightSaving:
    async def test_a_weekly_rule_keeps_18h_paris_across_the_march_and_october_changes(self, app, client, auth):
        app.state.settings = app.state.settings.model_copy(update={"slot_horizon_days": 400})
        doc = await doctor(client, auth)
        body = rule_body(doc.site_id, weekdays=[7], start_time="18:00", end_time="19:00", slot_minutes=60)
        response = await client.post("/v1/availability-rules", json=body, headers=doc.headers)
        assert response.status_code == 201, response.text
        starts = {dt.datetime.fromisoformat(s["start"]) for s in await live_slots(client, doc)}
        assert {local(s.isoformat(), PARIS).time() for s in starts} == {dt.time(18)}
        today = dt.date.today()
        march, october = next_last_sunday(3, today), next_last_sunday(10, today)
        utc = dt.UTC
        week = dt.timedelta(days=7)
        # winter UTC+1, summer UTC+2: the instant moves, the wall clock does not
        assert dt.datetime.combine(march - week, dt.time(17), tzinfo=utc) in starts
        assert dt.datetime.combine(march, dt.time(16), tzinfo=utc) in starts
        assert dt.datetime.combine(october - week, dt.time(16), tzinfo=utc) in starts
        assert dt.datetime.combine(october, dt.time(17), tzinfo=utc) in starts

    async def test_a_rule_in_la_reunion_keeps_indian_reunion_local_time(self, app, client, auth):
        app.state.settings = app.state.settings.model_copy(update={"slot_horizon_days": 400})
        doc = await doctor(client, auth, territory="974", postcode="97400", lat=-20.88, lon=55.45)
        response = await client.post("/v1/availability-rules", json=rule_body(doc.site_id), headers=doc.headers)
        assert response.status_code == 201, response.text
        assert response.json()["timezone"] == "Indian/Reunion"
        slots = await live_slots(client, doc)
        assert slots and all(s["territory_code"] == "974" for s in slots)
        # UTC+4 all year: 18:00 local is 14:00 UTC in winter and in summer alike
        assert {dt.datetime.fromisoformat(s["start"]).astimezone(dt.UTC).hour for s in slots} == {14, 15}
        assert {local(s["start"], ZoneInfo("Indian/Reunion")).strftime("%H:%M") for s in slots} == {
            "18:00", "18:20", "18:40", "19:00", "19:20", "19:40"}


class TestExpansionProperty:
    @hsettings(max_examples=60, deadline=None)
    @given(
        zone=st.sampled_from(["Europe/Paris", "Indian/Reunion", "America/Cayenne", "America/Martinique"]),
        start_hour=st.integers(0, 22), minutes=st.sampled_from([5, 15, 20, 30, 60]),
        weekdays=st.sets(st.integers(1, 7), min_size=1), offset_days=st.integers(0, 365),
    )
    def test_every_slot_sits_at_the_rules_wall_clock_time_on_one_of_its_days(
        self, zone, start_hour, minutes, weekdays, offset_days
    ):
        tz = ZoneInfo(zone)
        pattern = rules.Pattern(frozenset(weekdays), dt.time(start_hour), dt.time(start_hour + 1), minutes,
                                dt.date(2026, 1, 1), None, zone)
        begin = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=offset_days)
        found = list(rules.occurrences(pattern, begin, begin + dt.timedelta(days=21)))
        assert found, "three weeks always contain one of the days"
        for start, end in found:
            wall = start.astimezone(tz)
            assert wall.isoweekday() in weekdays and wall.hour == start_hour and wall.minute % minutes == 0
            assert end - start == dt.timedelta(minutes=minutes) and begin <= start


class TestEditAndEndRule:
    async def _rule_with_a_booked_and_a_held_slot(self, client, auth, connection):
        doc = await doctor(client, auth)
        rule = (await client.post("/v1/availability-rules", json=rule_body(doc.site_id), headers=doc.headers)).json()
        slots = await live_slots(client, doc)
        booked, held = slots[0]["id"], slots[1]["id"]
        await connection.execute(text("UPDATE slots SET status = 'booked' WHERE id = :id"), {"id": booked})
        await connection.execute(text("UPDATE slots SET held_until = now() + interval '5 minutes' WHERE id = :id"),
                                 {"id": held})
        return doc, rule, slots, booked, held

    async def test_editing_withdraws_future_free_slots_but_never_booked_or_held_ones(self, client, auth, connection):
        doc, rule, before, booked, held = await self._rule_with_a_booked_and_a_held_slot(client, auth, connection)
        response = await client.patch(f"/v1/availability-rules/{rule['id']}",
                                      json={"start_time": "19:00", "slot_minutes": 30}, headers=doc.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["revision"] == 2 and body["slots_withdrawn"] == len(before) - 2
        after = {s["id"]: s for s in await live_slots(client, doc)}
        assert after[booked]["state"] == "booked" and after[held]["state"] == "held"
        new = [s for s in after.values() if s["id"] not in (booked, held)]
        assert len(new) == body["slots_created"] > 0
        assert {local(s["start"], PARIS).strftime("%H:%M") for s in new} == {"19:00", "19:30"}

    async def test_ending_a_rule_withdraws_its_future_free_slots(self, client, auth, connection):
        doc, rule, before, booked, held = await self._rule_with_a_booked_and_a_held_slot(client, auth, connection)
        response = await client.delete(f"/v1/availability-rules/{rule['id']}", headers=doc.headers)
        assert response.status_code == 200
        assert response.json()["active"] is False and response.json()["slots_withdrawn"] == len(before) - 2
        assert {s["id"] for s in await live_slots(client, doc)} == {booked, held}
        assert (await client.get("/v1/availability-rules", headers=doc.headers)).json() == []
        ended = (await client.get("/v1/availability-rules?include_ended=true", headers=doc.headers)).json()
        assert [r["id"] for r in ended] == [rule["id"]]
        again = await client.patch(f"/v1/availability-rules/{rule['id']}", json={"mode": "home_visit"},
                                   headers=doc.headers)
        assert again.status_code == 409

    async def test_another_doctors_rule_is_404(self, client, auth):
        doc, other = await doctor(client, auth), await doctor(client, auth)
        rule = (await client.post("/v1/availability-rules", json=rule_body(doc.site_id), headers=doc.headers)).json()
        assert (await client.delete(f"/v1/availability-rules/{rule['id']}", headers=other.headers)).status_code == 404


class TestRollingHorizon:
    async def test_extend_adds_the_days_that_entered_the_horizon_and_is_idempotent(self, app, client, auth):
        doc = await doctor(client, auth)
        body = rule_body(doc.site_id, weekdays=[1, 2, 3, 4, 5, 6, 7])
        first = (await client.post("/v1/availability-rules", json=body, headers=doc.headers)).json()
        app.state.settings = app.state.settings.model_copy(update={"slot_horizon_days": 100})
        extended = await client.post("/v1/availability-rules/extend", headers=doc.headers)
        assert extended.status_code == 200, extended.text
        assert 9 * 6 <= extended.json()["slots_created"] <= 11 * 6
        assert (await client.post("/v1/availability-rules/extend", headers=doc.headers)).json()["slots_created"] == 0
        assert len(await live_slots(client, doc)) == first["slots_created"] + extended.json()["slots_created"]

    async def test_extend_does_not_bring_back_a_slot_withdrawn_by_hand(self, app, client, auth):
        doc = await doctor(client, auth)
        await client.post("/v1/availability-rules", json=rule_body(doc.site_id), headers=doc.headers)
        one = (await live_slots(client, doc))[0]
        await client.delete(f"/v1/slots/{one['id']}", headers=doc.headers)
        assert (await client.post("/v1/availability-rules/extend", headers=doc.headers)).json()["slots_created"] == 0

    async def test_extend_skips_an_occurrence_overlapping_a_slot_published_since(self, app, client, auth):
        doc = await doctor(client, auth)
        await client.post("/v1/availability-rules", json=rule_body(doc.site_id, weekdays=[1, 2, 3, 4, 5, 6, 7]),
                          headers=doc.headers)
        app.state.settings = app.state.settings.model_copy(update={"slot_horizon_days": 95})
        day = dt.datetime.combine(dt.date.today() + dt.timedelta(days=93), dt.time(18, 10), tzinfo=PARIS)
        manual = await client.post("/v1/slots", json=slot(doc.site_id, day), headers=doc.headers)
        assert manual.status_code == 201, manual.text
        created = (await client.post("/v1/availability-rules/extend", headers=doc.headers)).json()["slots_created"]
        assert created in (4 * 6 - 2, 5 * 6 - 2)

