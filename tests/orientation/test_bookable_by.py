"""Who may book a slot: bookable_by and release_before, enforced in the SQL that claims it."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter

from tests.bookings.helpers import make_call, now, scalar, world
from tests.support.factories import REDIRECTED


async def _publish(client, auth, w, start, **fields):
    body = {"practitioner_id": w.practitioner_id, "site_id": w.site["id"], "start": start.isoformat(),
            "end": (start + dt.timedelta(minutes=20)).isoformat(), "mode": "in_person", **fields}
    response = await client.post("/v1/slots", json=body, headers=auth("admin", []))
    assert response.status_code == 201, response.text
    return response.json()


async def _found(client, headers):
    response = await client.get("/v1/slots/search", params={"territory": "36"}, headers=headers)
    assert response.status_code == 200, response.text
    return {i["id"]: i for i in response.json()["items"]}


class TestBookableBy:
    async def test_a_slot_for_the_ed_only_is_seen_and_booked_by_the_ed_only(self, client, auth):
        w = await world(client, auth)
        slot = await _publish(client, auth, w, now() + dt.timedelta(hours=3), bookable_by=["urgences"])
        assert slot["bookable_by"] == ["urgences"] and slot["release_before"] is None
        regulator, nurse = auth("regulator", ["36"]), auth("urgences", ["36"])
        assert slot["id"] not in await _found(client, regulator)
        found = await _found(client, nurse)
        assert found[slot["id"]]["bookable_by"] == ["urgences"]

        call = await make_call(client, auth)
        hold = await client.post(f"/v1/slots/{slot['id']}/hold", json={"call_id": call["id"]}, headers=regulator)
        assert hold.status_code == 404, hold.text
        refused = await client.post("/v1/bookings", json={"slot_id": slot["id"], "call_id": call["id"]},
                                    headers=regulator)
        assert refused.status_code == 404 and refused.json()["field"] == "slot_id", refused.text
        booked = await client.post("/v1/bookings", headers=nurse,
                                   json={"slot_id": slot["id"], "patient": {**REDIRECTED, "birth_year": 1970}})
        assert booked.status_code == 201, booked.text

    async def test_release_before_opens_the_slot_to_everyone_near_its_start(self, client, auth):
        w = await world(client, auth)
        soon = await _publish(client, auth, w, now() + dt.timedelta(hours=1), bookable_by=["urgences"],
                              release_before="PT2H")
        later = await _publish(client, auth, w, now() + dt.timedelta(hours=5), bookable_by=["urgences"],
                               release_before="PT2H")
        assert soon["release_before"] == "PT2H"
        found = await _found(client, auth("regulator", ["36"]))
        assert soon["id"] in found and later["id"] not in found
        call = await make_call(client, auth)
        booked = await client.post("/v1/bookings", json={"slot_id": soon["id"], "call_id": call["id"]},
                                   headers=auth("regulator", ["36"]))
        assert booked.status_code == 201, booked.text

    async def test_rules_and_bulk_carry_it_to_their_slots(self, client, auth, connection):
        w = await world(client, auth)
        tomorrow = (now() + dt.timedelta(days=1)).date()
        rule = await client.post("/v1/availability-rules", headers=auth("admin", []), json={
            "practitioner_id": w.practitioner_id, "site_id": w.site["id"], "mode": "in_person",
            "weekdays": [1, 2, 3, 4, 5, 6, 7], "start_time": "18:00", "end_time": "19:00", "slot_minutes": 20,
            "valid_from": tomorrow.isoformat(), "valid_until": tomorrow.isoformat(),
            "bookable_by": ["referrers", "cpts"], "release_before": "PT3H"})
        assert rule.status_code == 201, rule.text
        assert rule.json()["bookable_by"] == ["referrers", "cpts"] and rule.json()["release_before"] == "PT3H"
        masks = await scalar(connection, "SELECT array_agg(DISTINCT bookable_by) FROM slots WHERE rule_id = :r",
                             r=rule.json()["id"])
        assert masks == [12]
        changed = await client.patch(f"/v1/availability-rules/{rule.json()['id']}",
                                     json={"bookable_by": ["regulation"], "release_before": None},
                                     headers=auth("admin", []))
        assert changed.status_code == 200, changed.text
        assert changed.json()["bookable_by"] == ["regulation"] and changed.json()["release_before"] is None

    async def test_bad_values_are_422_naming_the_field(self, client, auth):
        w = await world(client, auth)
        start = now() + dt.timedelta(hours=3)
        for fields, field in (({"bookable_by": []}, "bookable_by"), ({"bookable_by": ["samu"]}, "bookable_by.0"),
                              ({"release_before": 7200}, "release_before"),
                              ({"release_before": "P40D"}, "release_before")):
            body = {"practitioner_id": w.practitioner_id, "site_id": w.site["id"], "start": start.isoformat(),
                    "end": (start + dt.timedelta(minutes=20)).isoformat(), "mode": "in_person", **fields}
            response = await client.post("/v1/slots", json=body, headers=auth("admin", []))
            assert response.status_code == 422 and response.json()["field"] == field, (fields, response.text)


class TestBookableByRace:
    async def test_regulators_racing_an_ed_nurse_for_an_ed_slot_never_get_it(self, committed_client, auth, engine):
        client = committed_client
        w = await world(client, auth)
        slot = await _publish(client, auth, w, now() + dt.timedelta(hours=3), bookable_by=["urgences"])
        calls = await asyncio.gather(*(make_call(client, auth) for _ in range(20)))
        regulator, nurse = auth("regulator", ["36"]), auth("urgences", ["36"])
        responses = await asyncio.gather(
            *(client.post("/v1/bookings", json={"slot_id": slot["id"], "call_id": c["id"]}, headers=regulator)
              for c in calls),
            client.post("/v1/bookings", headers=nurse,
                        json={"slot_id": slot["id"], "patient": {**REDIRECTED, "birth_year": 1980}}),
        )
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {404: 20, 201: 1}, statuses
        assert responses[-1].status_code == 201
        assert await scalar(engine, "SELECT count(*) FROM bookings") == 1
