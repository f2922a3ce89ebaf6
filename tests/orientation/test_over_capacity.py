"""Over-capacity appointments (rendez-vous en surnuméraire): a regulator records an appointment with a
consenting doctor outside his published slots; PostgreSQL refuses it when he is busy then."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

from tests.bookings.helpers import make_call, make_slot, now, scalar, world
from tests.stats.helpers import monthly
from tests.support.factories import create_site


def _body(w, call_id, start, minutes=20, **extra):
    return {"kind": "over_capacity", "call_id": call_id, "practitioner_id": w.practitioner_id,
            "site_id": w.site["id"], "start": start.isoformat(),
            "end": (start + dt.timedelta(minutes=minutes)).isoformat(), "mode": "in_person", **extra}


async def _consent(client, auth, w, accepts=True):
    response = await client.patch("/v1/practitioners/me", json={"accepts_over_capacity": accepts},
                                  headers=auth("effector", practitioner_id=w.practitioner_id))
    assert response.status_code == 200, response.text
    assert response.json()["accepts_over_capacity"] is accepts


async def _search_ids(client, auth):
    response = await client.get("/v1/slots/search", params={"territory": "36"}, headers=auth("operator", ["36"]))
    return [i["id"] for i in response.json()["items"]]


class TestOverCapacity:
    async def test_recorded_for_a_consenting_doctor_it_books_notifies_and_stays_out_of_search(
        self, client, auth, connection
    ):
        w = await world(client, auth)
        call = await make_call(client, auth)
        regulator = auth("regulator", ["36"])
        start = now() + dt.timedelta(hours=1)
        refused = await client.post("/v1/bookings", json=_body(w, call["id"], start), headers=regulator)
        assert refused.status_code == 409 and refused.json()["field"] == "practitioner_id", refused.text
        assert "does not accept" in refused.json()["detail"]

        await _consent(client, auth, w)
        response = await client.post("/v1/bookings", json=_body(w, call["id"], start), headers=regulator)
        assert response.status_code == 201, response.text
        booking = response.json()
        assert booking["kind"] == "over_capacity" and booking["call_id"] == call["id"]
        assert booking["slot"]["practitioner_id"] == w.practitioner_id
        assert booking["slot"]["start"] == start.isoformat().replace("+00:00", "Z")

        assert booking["slot_id"] not in await _search_ids(client, auth)
        detail = (await client.get(f"/v1/calls/{call['id']}", headers=regulator)).json()
        assert detail["status"] == "in_progress"
        assert [(d["kind"], d["booking_id"]) for d in detail["decisions"]] == [("slot", booking["id"])]
        feed = await client.get("/v1/effectors/me/bookings",
                                headers=auth("effector", practitioner_id=w.practitioner_id))
        assert [(e["kind"], e["payload"]["booking_id"]) for e in feed.json()["events"]] == [
            ("booking.created", booking["id"])]
        read = await client.get(f"/v1/bookings/{booking['id']}", headers=regulator)
        assert read.json()["kind"] == "over_capacity"

    async def test_only_within_the_publishing_horizon_like_slots(self, client, auth, settings):
        w = await world(client, auth)
        await _consent(client, auth, w)
        call = await make_call(client, auth)
        regulator = auth("regulator", ["36"])
        far = now() + dt.timedelta(days=settings.slot_horizon_days, hours=2)
        refused = await client.post("/v1/bookings", json=_body(w, call["id"], far), headers=regulator)
        assert refused.status_code == 422 and refused.json()["field"] == "start", refused.text
        in_2099 = now().replace(year=2099)
        assert (await client.post("/v1/bookings", json=_body(w, call["id"], in_2099),
                                  headers=regulator)).status_code == 422
        near = far - dt.timedelta(days=2)
        assert (await client.post("/v1/bookings", json=_body(w, call["id"], near),
                                  headers=regulator)).status_code == 201

    async def test_refused_when_the_doctor_has_a_slot_or_an_appointment_then(self, client, auth):
        w = await world(client, auth)
        await _consent(client, auth, w)
        start = now() + dt.timedelta(hours=3)
        await make_slot(client, auth, w, start=start)
        calls = [await make_call(client, auth) for _ in range(3)]
        regulator = auth("regulator", ["36"])
        over_slot = await client.post("/v1/bookings", json=_body(w, calls[0]["id"], start + dt.timedelta(minutes=10)),
                                      headers=regulator)
        assert over_slot.status_code == 409 and over_slot.json()["field"] == "start", over_slot.text
        later = start + dt.timedelta(hours=1)
        assert (await client.post("/v1/bookings", json=_body(w, calls[1]["id"], later),
                                  headers=regulator)).status_code == 201
        twice = await client.post("/v1/bookings", json=_body(w, calls[2]["id"], later + dt.timedelta(minutes=5)),
                                  headers=regulator)
        assert twice.status_code == 409 and twice.json()["error"] == "PractitionerBusy"
        # right after the appointment is free
        assert (await client.post("/v1/bookings", json=_body(w, calls[2]["id"], later + dt.timedelta(minutes=20)),
                                  headers=regulator)).status_code == 201

    async def test_who_and_what_is_refused(self, client, auth):
        w = await world(client, auth)
        await _consent(client, auth, w)
        call = await make_call(client, auth)
        start = now() + dt.timedelta(hours=1)
        post = lambda body, headers: client.post("/v1/bookings", json=body, headers=headers)  # noqa: E731
        assert (await post(_body(w, call["id"], start), auth("urgences", ["36"]))).status_code == 403
        assert (await post(_body(w, call["id"], start), auth("regulator", ["18"]))).status_code == 404
        past = await post(_body(w, call["id"], now() - dt.timedelta(hours=1)), auth("regulator", ["36"]))
        assert past.status_code == 422 and past.json()["field"] == "end"
        far = await post({**_body(w, call["id"], start), "start": "9999-12-31T23:00:00-05:00",
                          "end": "9999-12-31T23:20:00-05:00"}, auth("regulator", ["36"]))
        assert far.status_code == 422 and far.json()["field"] == "start", far.text
        long = await post(_body(w, call["id"], start, minutes=13 * 60), auth("regulator", ["36"]))
        assert long.status_code == 422 and long.json()["field"] == "end", long.text
        cher = await create_site(client, auth("admin", []), territory="18", postcode="18000")
        not_served = await post({**_body(w, call["id"], start), "site_id": cher["id"]}, auth("admin", []))
        assert not_served.status_code == 422 and not_served.json()["field"] == "site_id", not_served.text

    async def test_only_at_one_of_the_doctors_own_sites_422_naming_site_id_otherwise(self, client, auth):
        # Observed: an appointment recorded at a site 40 km from the doctor's own, in his département.
        w = await world(client, auth)
        await _consent(client, auth, w)
        call = await make_call(client, auth)
        regulator = auth("regulator", ["36"])
        far = await create_site(client, auth("admin", []), name="Cabinet d'Argenton", postcode="36200",
                                lat=46.5886, lon=1.5197)
        start = now() + dt.timedelta(hours=1)
        refused = await client.post("/v1/bookings", json={**_body(w, call["id"], start), "site_id": far["id"]},
                                    headers=regulator)
        assert refused.status_code == 422 and refused.json()["field"] == "site_id", refused.text
        assert "site_ids" in refused.json()["detail"]
        # once he names it his, it is
        me = auth("effector", practitioner_id=w.practitioner_id)
        mine = await client.patch("/v1/practitioners/me", json={"site_ids": [w.site["id"], far["id"]]}, headers=me)
        assert mine.status_code == 200, mine.text
        booked = await client.post("/v1/bookings", json={**_body(w, call["id"], start), "site_id": far["id"]},
                                   headers=regulator)
        assert booked.status_code == 201, booked.text
        assert booked.json()["slot"]["site_id"] == far["id"]

    async def test_cancelled_it_is_withdrawn_never_offered_and_the_call_is_reoriented(
        self, client, auth, connection
    ):
        w = await world(client, auth)
        await _consent(client, auth, w)
        call = await make_call(client, auth)
        regulator = auth("regulator", ["36"])
        booking = (await client.post("/v1/bookings", json=_body(w, call["id"], now() + dt.timedelta(hours=1)),
                                     headers=regulator)).json()
        cancelled = await client.post(f"/v1/bookings/{booking['id']}/cancel", json={"reason": "imprévu"},
                                      headers=auth("effector", practitioner_id=w.practitioner_id))
        assert cancelled.status_code == 200, cancelled.text
        assert await scalar(connection, "SELECT status FROM slots WHERE id = :id", id=booking["slot_id"]) == "withdrawn"
        assert booking["slot_id"] not in await _search_ids(client, auth)
        assert (await client.get(f"/v1/calls/{call['id']}", headers=regulator)).json()["status"] == "to_reorient"

    async def test_the_report_and_the_participation_count_it_apart(self, client, auth):
        w = await world(client, auth)
        await _consent(client, auth, w)
        start = now() + dt.timedelta(hours=1)
        slot = await make_slot(client, auth, w, start=start + dt.timedelta(hours=1))
        regulator = auth("regulator", ["36"])
        first, second = await make_call(client, auth), await make_call(client, auth)
        assert (await client.post("/v1/bookings", json=_body(w, first["id"], start), headers=regulator)).is_success
        assert (await client.post("/v1/bookings", json={"slot_id": slot, "call_id": second["id"]},
                                  headers=regulator)).is_success
        month = start.astimezone(ZoneInfo("Europe/Paris")).strftime("%Y-%m")
        report = (await monthly(client, auth("analyst", ["36"]), first=month, last=month))["total"]
        assert report["slots"]["published"] == 1 and report["slots"]["booked"] == 1
        assert report["slots"]["over_capacity"] == 1
        assert report["decisions"]["slot"]["count"] == 2
        day = start.astimezone(ZoneInfo("Europe/Paris")).date().isoformat()
        evidence = await client.get(f"/v1/practitioners/{w.practitioner_id}/participation",
                                    params={"from": day, "to": day}, headers=auth("admin", []))
        total = evidence.json()["total"]
        assert (total["slots_offered"], total["orientations_received"], total["over_capacity"]) == (1, 2, 1)


class TestOverCapacityRace:
    async def test_twenty_regulators_giving_one_doctor_the_same_time_give_one_appointment(
        self, committed_client, auth, engine
    ):
        client = committed_client
        w = await world(client, auth)
        await _consent(client, auth, w)
        calls = await asyncio.gather(*(make_call(client, auth) for _ in range(20)))
        start = now() + dt.timedelta(hours=2)
        responses = await asyncio.gather(*(
            client.post("/v1/bookings", json=_body(w, c["id"], start + dt.timedelta(minutes=i % 10)),
                        headers=auth("regulator", ["36"]))
            for i, c in enumerate(calls)))
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {201: 1, 409: 19}, statuses
        assert await scalar(engine, "SELECT count(*) FROM slots WHERE over_capacity") == 1
        assert await scalar(engine, "SELECT count(*) FROM bookings") == 1
        assert await scalar(engine, "SELECT count(*) FROM decisions") == 1
