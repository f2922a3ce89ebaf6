"""The patient in the match: search near his postcode, his age picks the children's slots, the
effector gets what he needs to see him, and a call holds one active booking unless told otherwise."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter

from sqlalchemy import text

from tests.bookings.helpers import make_call, make_slot, now, scalar, world


async def _search(client, headers, **params):
    response = await client.get("/v1/slots/search", params={"territory": "36", **params}, headers=headers)
    return response


async def _book(client, headers, slot, call_id, **extra):
    return await client.post("/v1/bookings", json={"slot_id": slot, "call_id": call_id, **extra}, headers=headers)


class TestNearThePatient:
    async def test_distances_from_a_postcode_or_from_the_calls_postcode(self, client, auth):
        w = await world(client, auth)  # a site in Châteauroux
        slot = await make_slot(client, auth, w)
        operator = auth("operator", ["36"])
        by_postcode = await _search(client, operator, near_postcode="36100", sort="distance")  # Issoudun
        assert by_postcode.status_code == 200, by_postcode.text
        page = by_postcode.json()
        assert page["near"]["source"] == "near_postcode" and page["near"]["postcode"] == "36100"
        [found] = [s for s in page["items"] if s["id"] == slot]
        assert 20 < found["distance_km"] < 35  # Issoudun to Châteauroux, about 27 km as the crow flies

        call = await make_call(client, auth, patient={"postcode": "36000", "phone": "0254000000"})
        from_call = (await _search(client, operator, call_id=call["id"])).json()
        assert from_call["near"]["source"] == "call" and from_call["near"]["postcode"] is None  # not shown back
        assert [s for s in from_call["items"] if s["id"] == slot][0]["distance_km"] < 5
        # given coordinates win over the call's postcode
        given = (await _search(client, operator, call_id=call["id"], near_lat=46.0, near_lon=1.0)).json()
        assert given["near"]["source"] == "near_lat"

    async def test_what_is_refused(self, client, auth):
        operator = auth("operator", ["36"])
        unknown = await _search(client, operator, near_postcode="99999")
        assert unknown.status_code == 422 and unknown.json()["field"] == "near_postcode"
        both = await _search(client, operator, near_postcode="36000", near_lat=46.8, near_lon=1.7)
        assert both.status_code == 422 and both.json()["field"] == "near_postcode"
        call = await make_call(client, auth)
        assert (await _search(client, auth("operator", ["18"]), territory="18",
                              call_id=call["id"])).status_code == 404

    async def test_a_child_gets_the_childrens_slots_too(self, client, auth):
        w = await world(client, auth)
        children = await make_slot(client, auth, w, audience="children")
        ehpad = await make_slot(client, auth, w, start=now() + dt.timedelta(hours=4), audience="ehpad")
        general = await make_slot(client, auth, w, start=now() + dt.timedelta(hours=6))
        child = await make_call(client, auth, patient={"birth_year": dt.date.today().year - 6, "phone": "0600000000"})
        page = (await _search(client, auth("operator", ["36"]), call_id=child["id"])).json()
        assert page["audience"] == "children"
        assert {s["id"] for s in page["items"]} == {children, general}
        adult = await make_call(client, auth)
        page = (await _search(client, auth("operator", ["36"]), call_id=adult["id"])).json()
        assert page["audience"] is None and {s["id"] for s in page["items"]} == {children, ehpad, general}


class TestWhatTheEffectorIsTold:
    async def test_by_mode_name_address_and_phone_only_when_needed(self, client, auth, connection):
        w = await world(client, auth)
        patient = {"family_name": "Moreau", "given_name": "Paul", "birth_year": 1950, "sex": "M",
                   "phone": "0254998877", "address": "7 rue des Lilas, 36000 Châteauroux"}
        seen = {}
        for hours, mode in ((2, "home_visit"), (3, "teleconsultation"), (4, "in_person")):
            slot = await make_slot(client, auth, w, start=now() + dt.timedelta(hours=hours), mode=mode)
            call = await make_call(client, auth, patient=patient)
            assert (await _book(client, auth("operator", ["36"]), slot, call["id"])).status_code == 201
        for payload in (await connection.execute(text("SELECT payload FROM outbox_events ORDER BY seq"))).scalars():
            assert "Moreau" not in str(payload) and "0254998877" not in str(payload)  # sealed at rest
        me = auth("effector", practitioner_id=w.practitioner_id, sub="dr-feed")
        feed = await client.get("/v1/effectors/me/bookings", headers=me)
        assert feed.status_code == 200
        for event in feed.json()["events"]:
            seen[event["payload"]["mode"]] = event["payload"]["patient"]
        base = {"initials": "PM", "birth_year": 1950, "sex": "M", "age": dt.date.today().year - 1950}
        assert seen["home_visit"] == {**base, "family_name": "Moreau", "given_name": "Paul",
                                      "address": "7 rue des Lilas, 36000 Châteauroux", "phone": "0254998877"}
        assert seen["teleconsultation"] == {**base, "phone": "0254998877"}
        assert seen["in_person"] == base
        audited = await scalar(connection, "SELECT count(*) FROM audit_log WHERE action = 'booking_events.read' "
                                           "AND actor_sub = 'dr-feed'")
        assert audited == 1


class TestOneActiveBookingPerCall:
    async def test_a_second_booking_replaces_the_first_or_says_also(self, client, auth, connection):
        w = await world(client, auth)
        first, second, third = [await make_slot(client, auth, w, start=now() + dt.timedelta(hours=h))
                                for h in (2, 4, 6)]
        call = await make_call(client, auth)
        operator = auth("operator", ["36"])
        one = (await _book(client, operator, first, call["id"])).json()
        refused = await _book(client, operator, second, call["id"])
        assert refused.status_code == 409 and refused.json()["error"] == "CallBooked", refused.text
        assert refused.json()["field"] == "replaces"
        assert await scalar(connection, "SELECT status FROM slots WHERE id = :s", s=second) == "free"

        two = await _book(client, operator, second, call["id"], replaces=one["id"])
        assert two.status_code == 201, two.text
        assert await scalar(connection, "SELECT status FROM bookings WHERE id = :b", b=one["id"]) == "cancelled"
        assert await scalar(connection, "SELECT status FROM slots WHERE id = :s", s=first) == "free"
        kinds = (await connection.execute(text("SELECT kind FROM outbox_events ORDER BY seq"))).scalars().all()
        assert kinds == ["booking.created", "booking.cancelled", "booking.created"]
        detail = (await client.get(f"/v1/calls/{call['id']}", headers=operator)).json()
        assert detail["status"] == "in_progress"
        # the replaced booking's decision no longer holds; the new one does (both decided at the same instant here:
        # the test's one transaction gives them one now(), so their order is not the point)
        assert {d["booking_id"]: d["revoked_at"] is None for d in detail["decisions"]} == {
            one["id"]: False, two.json()["id"]: True}
        assert len(detail["decisions"]) == 2
        also = await _book(client, operator, third, call["id"], also=True)
        assert also.status_code == 201, also.text
        both = await _book(client, operator, first, call["id"], also=True, replaces=one["id"])
        assert both.status_code == 422


class TestOneActiveBookingRace:
    async def test_ten_operators_booking_ten_slots_for_one_call_make_one_booking(
        self, committed_client, auth, engine
    ):
        client = committed_client
        w = await world(client, auth)
        slots = [await make_slot(client, auth, w, start=now() + dt.timedelta(hours=2 + h)) for h in range(10)]
        call = await make_call(client, auth)
        responses = await asyncio.gather(*(_book(client, auth("operator", ["36"]), s, call["id"]) for s in slots))
        assert Counter(r.status_code for r in responses) == {201: 1, 409: 9}
        assert await scalar(engine, "SELECT count(*) FROM bookings WHERE status = 'active'") == 1
        assert await scalar(engine, "SELECT count(*) FROM slots WHERE status = 'booked'") == 1


class TestReplacingIsTheRegulations:
    async def test_an_ed_nurse_may_not_replace_a_booking_of_the_regulation(self, client, auth, connection):
        w = await world(client, auth)
        first, second = [await make_slot(client, auth, w, start=now() + dt.timedelta(hours=h)) for h in (2, 4)]
        call = await make_call(client, auth)
        booked = (await _book(client, auth("regulator", ["36"]), first, call["id"])).json()
        refused = await _book(client, auth("urgences", ["36"]), second, call["id"], replaces=booked["id"])
        assert refused.status_code == 403 and refused.json()["field"] == "replaces", refused.text
        assert await scalar(connection, "SELECT status FROM bookings WHERE id = :b", b=booked["id"]) == "active"


class TestTwoCancellationsAtOnce:
    async def test_the_last_booking_of_a_call_cancelled_with_another_reorients_the_call(
        self, committed_client, auth, engine
    ):
        client = committed_client
        w = await world(client, auth)
        slots = [await make_slot(client, auth, w, start=now() + dt.timedelta(hours=h)) for h in (2, 4)]
        call = await make_call(client, auth)
        operator = auth("operator", ["36"])
        one = (await _book(client, operator, slots[0], call["id"])).json()
        two = (await _book(client, operator, slots[1], call["id"], also=True)).json()
        cancels = await asyncio.gather(*(client.post(f"/v1/bookings/{b['id']}/cancel", headers=operator)
                                         for b in (one, two)))
        assert [r.status_code for r in cancels] == [200, 200]
        assert await scalar(engine, "SELECT status FROM calls WHERE id = :c", c=call["id"]) == "to_reorient"
