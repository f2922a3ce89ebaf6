"""GET /v1/effectors/me/bookings: the effector's events, in order, with a cursor."""

from __future__ import annotations

import datetime as dt

from tests.bookings.helpers import make_call, make_slot, now, world


class TestEffectorFeed:
    async def test_the_effector_reads_its_events_in_order_and_resumes_from_the_cursor(self, client, auth, connection):
        w, other = await world(client, auth), await world(client, auth)
        slots = [await make_slot(client, auth, w, start=now() + dt.timedelta(hours=2 + i)) for i in range(2)]
        await make_slot(client, auth, other)
        call = await make_call(client, auth)
        operator = auth("operator")
        first = (await client.post("/v1/bookings", json={"slot_id": slots[0], "call_id": call["id"]},
                                   headers=operator)).json()
        await client.post(f"/v1/bookings/{first['id']}/cancel", headers=operator)
        second = (await client.post("/v1/bookings", json={"slot_id": slots[1], "call_id": call["id"]},
                                    headers=operator)).json()
        me = auth("effector", practitioner_id=w.practitioner_id)
        page = (await client.get("/v1/effectors/me/bookings", params={"limit": 2}, headers=me)).json()
        assert [(e["kind"], e["payload"]["booking_id"]) for e in page["events"]] == [
            ("booking.created", first["id"]), ("booking.cancelled", first["id"]),
        ]
        assert page["events"][0]["seq"] < page["events"][1]["seq"] == page["next_since"]
        assert page["events"][0]["payload"]["start"] and page["events"][0]["delivered_at"] is None
        rest = (await client.get("/v1/effectors/me/bookings", params={"since": page["next_since"]},
                                 headers=me)).json()
        assert [(e["kind"], e["payload"]["booking_id"]) for e in rest["events"]] == [("booking.created", second["id"])]
        end = (await client.get("/v1/effectors/me/bookings", params={"since": rest["next_since"]}, headers=me)).json()
        assert end == {"events": [], "next_since": rest["next_since"]}

    async def test_another_effector_sees_none_of_them_and_staff_may_not_read_the_feed(self, client, auth, connection):
        w, other = await world(client, auth), await world(client, auth)
        slot = await make_slot(client, auth, w)
        call = await make_call(client, auth)
        await client.post("/v1/bookings", json={"slot_id": slot, "call_id": call["id"]}, headers=auth("operator"))
        theirs = auth("effector", practitioner_id=other.practitioner_id)
        assert (await client.get("/v1/effectors/me/bookings", headers=theirs)).json()["events"] == []
        assert (await client.get("/v1/effectors/me/bookings", headers=auth("regulator"))).status_code == 403
        me = auth("effector", practitioner_id=w.practitioner_id)
        bad = await client.get("/v1/effectors/me/bookings", params={"since": -1}, headers=me)
        assert bad.status_code == 422 and bad.json()["field"] == "query.since"


class TestFeedInput:
    async def test_a_cursor_beyond_any_sequence_is_422_not_a_crash(self, client, auth):
        w = await world(client, auth)
        me = auth("effector", practitioner_id=w.practitioner_id)
        response = await client.get("/v1/effectors/me/bookings", params={"since": 2**63}, headers=me)
        assert response.status_code == 422 and response.json()["field"] == "query.since"
