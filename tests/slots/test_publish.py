from __future__ import annotations

import asyncio
import datetime as dt

import httpx
from sqlalchemy import text

from tests.slots.helpers import at, doctor, slot
from tests.support.factories import create_cpts, create_site


class TestPublishOneSlot:
    async def test_an_effector_publishes_a_free_slot_at_a_site_of_its_territory(self, client: httpx.AsyncClient, auth):
        doc = await doctor(client, auth)
        start = at(days=2, hour=17)
        response = await client.post("/v1/slots", json=slot(doc.site_id, start, mode="teleconsultation"),
                                     headers=doc.headers)
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["practitioner_id"] == doc.id and body["territory_code"] == "36"
        assert body["status"] == "free" and body["state"] == "free" and body["source"] == "api"
        assert dt.datetime.fromisoformat(body["start"]) == start
        assert body["mode"] == "teleconsultation"

    async def test_an_admin_publishes_for_a_practitioner_it_names(self, client, auth):
        doc = await doctor(client, auth)
        body = slot(doc.site_id, at(3), practitioner_id=doc.id)
        response = await client.post("/v1/slots", json=body, headers=auth("admin"))
        assert response.status_code == 201, response.text
        assert response.json()["practitioner_id"] == doc.id

    async def test_an_admin_without_practitioner_id_is_422_naming_it(self, client, auth):
        doc = await doctor(client, auth)
        response = await client.post("/v1/slots", json=slot(doc.site_id, at(3)), headers=auth("admin"))
        assert response.status_code == 422
        assert response.json()["field"] == "practitioner_id"

    async def test_an_effector_cannot_publish_for_another_doctor(self, client, auth):
        doc, other = await doctor(client, auth), await doctor(client, auth)
        response = await client.post("/v1/slots", json=slot(doc.site_id, at(3), practitioner_id=other.id),
                                     headers=doc.headers)
        assert response.status_code == 403

    async def test_an_operator_cannot_publish(self, client, auth):
        doc = await doctor(client, auth)
        response = await client.post("/v1/slots", json=slot(doc.site_id, at(3), practitioner_id=doc.id),
                                     headers=auth("operator"))
        assert response.status_code == 403

    async def test_a_site_of_a_territory_the_doctor_does_not_serve_is_422(self, client, auth):
        doc = await doctor(client, auth)
        elsewhere = await create_site(client, auth("admin"), "37", postcode="37000")
        response = await client.post("/v1/slots", json=slot(elsewhere["id"], at(3)), headers=doc.headers)
        assert response.status_code == 422
        assert response.json()["field"] == "site_id"
        assert "37" in response.json()["detail"]

    async def test_a_site_of_a_cpts_under_a_served_departement_is_accepted(self, client, auth):
        doc = await doctor(client, auth)
        await create_cpts(client, auth("admin"), "36-boischaut-sud")
        site = await create_site(client, auth("admin"), "36-boischaut-sud")
        response = await client.post("/v1/slots", json=slot(site["id"], at(3)), headers=doc.headers)
        assert response.status_code == 201, response.text
        assert response.json()["territory_code"] == "36-boischaut-sud"

    async def test_an_unknown_site_is_422(self, client, auth):
        doc = await doctor(client, auth)
        response = await client.post("/v1/slots", json=slot("00000000-0000-0000-0000-000000000000", at(3)),
                                     headers=doc.headers)
        assert response.status_code == 422 and response.json()["field"] == "site_id"


class TestTimeRules:
    async def _post(self, client, doc, start, end):
        body = {"site_id": doc.site_id, "start": start.isoformat(), "end": end.isoformat(), "mode": "in_person"}
        return await client.post("/v1/slots", json=body, headers=doc.headers)

    async def test_a_start_in_the_past_is_422_naming_start(self, client, auth):
        doc = await doctor(client, auth)
        start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        response = await self._post(client, doc, start, start + dt.timedelta(minutes=20))
        assert response.status_code == 422
        assert response.json()["field"] == "start" and "past" in response.json()["detail"]

    async def test_a_start_a_few_seconds_ago_is_within_the_clock_skew_tolerance(self, client, auth):
        doc = await doctor(client, auth)
        start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)
        response = await self._post(client, doc, start, start + dt.timedelta(minutes=20))
        assert response.status_code == 201, response.text

    async def test_an_end_before_the_start_is_422_naming_end(self, client, auth):
        doc = await doctor(client, auth)
        start = at(2)
        response = await self._post(client, doc, start, start - dt.timedelta(minutes=20))
        assert response.status_code == 422 and response.json()["field"] == "end"

    async def test_shorter_than_5_minutes_or_longer_than_12_hours_is_422(self, client, auth):
        doc = await doctor(client, auth)
        start = at(2, hour=6)
        short = await self._post(client, doc, start, start + dt.timedelta(minutes=4))
        long = await self._post(client, doc, start, start + dt.timedelta(hours=12, minutes=1))
        assert (short.status_code, short.json()["field"]) == (422, "end")
        assert (long.status_code, long.json()["field"]) == (422, "end")
        assert "12 hours" in long.json()["detail"]

    async def test_beyond_the_horizon_is_422(self, client, auth):
        doc = await doctor(client, auth)
        start = at(91)
        response = await self._post(client, doc, start, start + dt.timedelta(minutes=20))
        assert response.status_code == 422
        assert response.json()["field"] == "start" and "90 days" in response.json()["detail"]

    async def test_a_time_without_offset_is_422(self, client, auth):
        doc = await doctor(client, auth)
        body = {"site_id": doc.site_id, "start": "2030-01-01T10:00:00", "end": "2030-01-01T10:20:00",
                "mode": "in_person"}
        response = await client.post("/v1/slots", json=body, headers=doc.headers)
        assert response.status_code == 422 and response.json()["field"] == "start"
        assert "must carry a UTC offset" in response.json()["detail"]

    async def test_an_unknown_mode_is_422(self, client, auth):
        doc = await doctor(client, auth)
        response = await client.post("/v1/slots", json=slot(doc.site_id, at(2), mode="drive"), headers=doc.headers)
        assert response.status_code == 422 and response.json()["field"] == "mode"


class TestOverlap:
    async def test_an_overlapping_slot_is_409_naming_the_slot_it_overlaps(self, client, auth):
        doc = await doctor(client, auth)
        first = (await client.post("/v1/slots", json=slot(doc.site_id, at(2), 30), headers=doc.headers)).json()
        response = await client.post("/v1/slots", json=slot(doc.site_id, at(2, minute=15), 30), headers=doc.headers)
        assert response.status_code == 409
        assert response.json()["conflicting_slot_id"] == first["id"]
        assert first["id"] in response.json()["detail"]

    async def test_back_to_back_slots_do_not_overlap(self, client, auth):
        doc = await doctor(client, auth)
        for minute in (0, 20, 40):
            response = await client.post("/v1/slots", json=slot(doc.site_id, at(2, minute=minute)), headers=doc.headers)
            assert response.status_code == 201, response.text

    async def test_two_doctors_may_hold_the_same_hour(self, client, auth):
        one, two = await doctor(client, auth), await doctor(client, auth)
        for doc in (one, two):
            response = await client.post("/v1/slots", json=slot(doc.site_id, at(2)), headers=doc.headers)
            assert response.status_code == 201

    async def test_a_withdrawn_slot_no_longer_blocks_its_time(self, client, auth):
        doc = await doctor(client, auth)
        first = (await client.post("/v1/slots", json=slot(doc.site_id, at(2)), headers=doc.headers)).json()
        assert (await client.delete(f"/v1/slots/{first['id']}", headers=doc.headers)).status_code == 200
        again = await client.post("/v1/slots", json=slot(doc.site_id, at(2)), headers=doc.headers)
        assert again.status_code == 201


class TestRace:
    async def test_two_overlapping_publishes_racing_on_two_connections_give_one_201_and_one_409(
        self, committed_client: httpx.AsyncClient, auth
    ):
        doc = await doctor(committed_client, auth)
        for round_ in range(5):
            a = slot(doc.site_id, at(2 + round_, hour=8), 30)
            b = slot(doc.site_id, at(2 + round_, hour=8, minute=10), 30)
            responses = await asyncio.gather(
                committed_client.post("/v1/slots", json=a, headers=doc.headers),
                committed_client.post("/v1/slots", json=b, headers=doc.headers),
            )
            codes = sorted(r.status_code for r in responses)
            assert codes == [201, 409], [r.text for r in responses]
            winner = next(r.json() for r in responses if r.status_code == 201)
            loser = next(r.json() for r in responses if r.status_code == 409)
            assert loser["conflicting_slot_id"] == winner["id"]
        mine = (await committed_client.get("/v1/slots", headers=doc.headers)).json()
        assert len(mine) == 5


class TestWithdraw:
    async def test_withdrawing_a_free_slot_keeps_it_for_history(self, client, auth):
        doc = await doctor(client, auth)
        created = (await client.post("/v1/slots", json=slot(doc.site_id, at(2)), headers=doc.headers)).json()
        response = await client.delete(f"/v1/slots/{created['id']}", headers=doc.headers)
        assert response.status_code == 200
        assert response.json()["status"] == "withdrawn" and response.json()["withdrawn_at"]
        listed = (await client.get("/v1/slots", headers=doc.headers)).json()
        assert [(s["id"], s["state"]) for s in listed] == [(created["id"], "withdrawn")]

    async def test_withdrawing_twice_answers_the_same(self, client, auth):
        doc = await doctor(client, auth)
        created = (await client.post("/v1/slots", json=slot(doc.site_id, at(2)), headers=doc.headers)).json()
        await client.delete(f"/v1/slots/{created['id']}", headers=doc.headers)
        again = await client.delete(f"/v1/slots/{created['id']}", headers=doc.headers)
        assert again.status_code == 200 and again.json()["status"] == "withdrawn"

    async def test_a_booked_slot_cannot_be_withdrawn(self, client, auth, connection):
        doc = await doctor(client, auth)
        created = (await client.post("/v1/slots", json=slot(doc.site_id, at(2)), headers=doc.headers)).json()
        await connection.execute(text("UPDATE slots SET status = 'booked' WHERE id = :id"), {"id": created["id"]})
        response = await client.delete(f"/v1/slots/{created['id']}", headers=doc.headers)
        assert response.status_code == 409 and "booked" in response.json()["detail"]

    async def test_a_held_slot_cannot_be_withdrawn_while_the_hold_lasts(self, client, auth, connection):
        doc = await doctor(client, auth)
        created = (await client.post("/v1/slots", json=slot(doc.site_id, at(2)), headers=doc.headers)).json()
        await connection.execute(text("UPDATE slots SET held_until = now() + interval '5 minutes' WHERE id = :id"),
                                 {"id": created["id"]})
        assert (await client.get(f"/v1/slots/{created['id']}", headers=doc.headers)).json()["state"] == "held"
        response = await client.delete(f"/v1/slots/{created['id']}", headers=doc.headers)
        assert response.status_code == 409 and "held" in response.json()["detail"]

    async def test_another_doctors_slot_is_404(self, client, auth):
        doc, other = await doctor(client, auth), await doctor(client, auth)
        created = (await client.post("/v1/slots", json=slot(doc.site_id, at(2)), headers=doc.headers)).json()
        assert (await client.delete(f"/v1/slots/{created['id']}", headers=other.headers)).status_code == 404
        assert (await client.get(f"/v1/slots/{created['id']}", headers=other.headers)).status_code == 404


class TestMySlots:
    async def test_the_doctor_sees_its_slots_soonest_first_with_their_state(self, client, auth, connection):
        doc = await doctor(client, auth)
        ids = []
        for day in (4, 2, 3, 5):
            response = await client.post("/v1/slots", json=slot(doc.site_id, at(day)), headers=doc.headers)
            ids.append(response.json()["id"])
        await connection.execute(text("UPDATE slots SET status = 'booked' WHERE id = :id"), {"id": ids[2]})
        await connection.execute(
            text("UPDATE slots SET held_until = now() + interval '5 minutes' WHERE id = :id"), {"id": ids[0]}
        )
        await connection.execute(
            text("UPDATE slots SET held_until = now() - interval '1 minute' WHERE id = :id"), {"id": ids[3]}
        )
        await client.delete(f"/v1/slots/{ids[1]}", headers=doc.headers)
        # a slot that has begun reads as past
        await connection.execute(text(
            "INSERT INTO slots (practitioner_id, site_id, territory_code, start_at, end_at, mode) "
            "VALUES (:p, :s, '36', now() - interval '1 hour', now() - interval '40 minutes', 'in_person')"
        ), {"p": doc.id, "s": doc.site_id})
        listed = (await client.get("/v1/slots?mine=true", headers=doc.headers)).json()
        assert [s["state"] for s in listed] == ["past", "withdrawn", "booked", "held", "free"]

    async def test_from_to_and_state_filter_the_list(self, client, auth):
        doc = await doctor(client, auth)
        for day in (2, 3, 4):
            await client.post("/v1/slots", json=slot(doc.site_id, at(day)), headers=doc.headers)
        params = {"from": at(3, hour=0).isoformat(), "to": at(4, hour=0).isoformat(), "state": "free"}
        listed = (await client.get("/v1/slots", params=params, headers=doc.headers)).json()
        assert len(listed) == 1 and listed[0]["start"].startswith(at(3).date().isoformat())

    async def test_a_doctor_never_sees_another_doctors_slots(self, client, auth):
        doc, other = await doctor(client, auth), await doctor(client, auth)
        await client.post("/v1/slots", json=slot(doc.site_id, at(2)), headers=doc.headers)
        assert (await client.get("/v1/slots", headers=other.headers)).json() == []

    async def test_mine_false_is_422(self, client, auth):
        doc = await doctor(client, auth)
        response = await client.get("/v1/slots?mine=false", headers=doc.headers)
        assert response.status_code == 422 and response.json()["field"] == "mine"
