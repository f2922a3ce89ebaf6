"""Matching: the candidates (accepting, publics fitting, capacity left, nearest the patient's postcode), the
coordinator's proposal the patient agreed to, the doctor's answer, the capacity taken, the MT found."""

from __future__ import annotations

import datetime as dt

from tests.mt.helpers import ISSOUDUN, LE_BLANC, doctor, propose, request

YEAR = dt.date.today().year


class TestCandidates:
    async def test_doctors_fitting_the_patients_publics_with_capacity_nearest_first(self, client, auth):
        near = await doctor(client, auth, site=ISSOUDUN, publics=["elderly"], family_name="Proche")
        far = await doctor(client, auth, site=LE_BLANC, publics=["any"], family_name="Loin")
        await doctor(client, auth, publics=["children"], family_name="Pediatre")  # does not take the elderly
        await doctor(client, auth, accepting=False, family_name="Ferme")
        await doctor(client, auth, territory="18", family_name="Cher")
        coordinator = auth("coordinator")
        patient = await request(client, coordinator, birth_year=YEAR - 75, postcode="36100")
        listed = await client.get(f"/v1/mt-requests/{patient['id']}/candidates", headers=coordinator)
        assert listed.status_code == 200, listed.text
        assert [c["practitioner_id"] for c in listed.json()] == [near["id"], far["id"]]
        assert listed.json()[0]["distance_km"] < 10 < 50 < listed.json()[1]["distance_km"]
        assert listed.json()[1]["site"]["id"] == far["site"]["id"]

    async def test_a_doctor_without_capacity_left_this_month_is_no_candidate(self, client, auth):
        d = await doctor(client, auth, per_month=1)
        coordinator = auth("coordinator")
        first, second = await request(client, coordinator), await request(client, coordinator)
        proposal = await propose(client, coordinator, first["id"], d["id"])
        assert (await client.post(f"/v1/mt-proposals/{proposal['id']}/accept", headers=d["headers"])).status_code == 200
        assert (await client.get(f"/v1/mt-requests/{second['id']}/candidates", headers=coordinator)).json() == []
        full = await client.post(f"/v1/mt-requests/{second['id']}/proposals", headers=coordinator,
                                 json={"practitioner_id": d["id"], "patient_agreed": True})
        assert (full.status_code, full.json()["error"]) == (409, "CapacityExhausted")
        mine = await client.get("/v1/practitioners/me/new-patients", headers=d["headers"])
        assert (mine.json()["taken_this_month"], mine.json()["capacity_left"]) == (1, 0)


class TestProposalsAndAnswers:
    async def test_the_patient_must_have_agreed(self, client, auth):
        d = await doctor(client, auth)
        patient = await request(client, auth("coordinator"))
        for body in ({"practitioner_id": d["id"]}, {"practitioner_id": d["id"], "patient_agreed": False}):
            refused = await client.post(f"/v1/mt-requests/{patient['id']}/proposals", headers=auth("coordinator"),
                                        json=body)
            assert (refused.status_code, refused.json()["field"]) == (422, "patient_agreed")
        unfit = await doctor(client, auth, publics=["children"])
        misfit = await client.post(f"/v1/mt-requests/{patient['id']}/proposals", headers=auth("coordinator"),
                                   json={"practitioner_id": unfit["id"], "patient_agreed": True})
        assert (misfit.status_code, misfit.json()["field"]) == (422, "practitioner_id")

    async def test_the_doctor_accepts_the_request_is_accepted_then_found(self, client, auth):
        d = await doctor(client, auth, per_month=2)
        coordinator = auth("coordinator")
        patient = await request(client, coordinator, family_name="Renard")
        proposal = await propose(client, coordinator, patient["id"], d["id"])
        assert (await client.get(f"/v1/mt-requests/{patient['id']}", headers=coordinator)).json()["state"] == "proposed"
        # Before accepting, the doctor reads who the patient is in outline only.
        offered = await client.get("/v1/mt-proposals", params={"state": "pending"}, headers=d["headers"])
        assert [p["id"] for p in offered.json()] == [proposal["id"]]
        assert offered.json()[0]["request"]["initials"] == "MR"
        outline = await client.get(f"/v1/mt-requests/{patient['id']}", headers=d["headers"])
        assert (outline.json()["patient"]["family_name"], outline.json()["patient"]["initials"]) == (None, "MR")
        other = await doctor(client, auth)
        assert (await client.post(f"/v1/mt-proposals/{proposal['id']}/accept", headers=other["headers"])
                ).status_code == 404
        accepted = await client.post(f"/v1/mt-proposals/{proposal['id']}/accept", headers=d["headers"])
        assert (accepted.status_code, accepted.json()["state"]) == (200, "accepted")
        placed = (await client.get(f"/v1/mt-requests/{patient['id']}", headers=d["headers"])).json()
        assert (placed["state"], placed["practitioner_id"], placed["patient"]["family_name"]) == (
            "accepted", d["id"], "Renard")
        future = await client.post(f"/v1/mt-requests/{patient['id']}/found", headers=d["headers"],
                                   json={"first_visit_on": (dt.date.today() + dt.timedelta(days=3)).isoformat()})
        assert (future.status_code, future.json()["field"]) == (422, "first_visit_on")
        assert (await client.post(f"/v1/mt-requests/{patient['id']}/found", headers=other["headers"],
                                  json={"first_visit_on": dt.date.today().isoformat()})).status_code == 404
        found = await client.post(f"/v1/mt-requests/{patient['id']}/found", headers=d["headers"],
                                  json={"first_visit_on": dt.date.today().isoformat()})
        assert (found.status_code, found.json()["state"]) == (200, "found")
        again = await client.post(f"/v1/mt-requests/{patient['id']}/found", headers=coordinator,
                                  json={"first_visit_on": dt.date.today().isoformat()})
        assert (again.status_code, again.json()["error"]) == (409, "WrongState")

    async def test_a_refusal_has_a_reason_from_the_list_and_the_request_waits_again(self, client, auth):
        d = await doctor(client, auth)
        coordinator = auth("coordinator")
        patient = await request(client, coordinator)
        proposal = await propose(client, coordinator, patient["id"], d["id"])
        vague = await client.post(f"/v1/mt-proposals/{proposal['id']}/refuse", headers=d["headers"],
                                  json={"reason": "busy"})
        assert (vague.status_code, vague.json()["field"]) == (422, "reason")
        refused = await client.post(f"/v1/mt-proposals/{proposal['id']}/refuse", headers=d["headers"],
                                    json={"reason": "too_far"})
        assert (refused.status_code, refused.json()["refusal_reason"]) == (200, "too_far")
        back = (await client.get(f"/v1/mt-requests/{patient['id']}", headers=coordinator)).json()
        assert back["state"] == "waiting" and back["proposals"][0]["state"] == "refused"
        # He who refused is no candidate for this patient any more.
        assert (await client.get(f"/v1/mt-requests/{patient['id']}/candidates", headers=coordinator)).json() == []
        late = await client.post(f"/v1/mt-proposals/{proposal['id']}/accept", headers=d["headers"])
        assert (late.status_code, late.json()["error"]) == (409, "WrongState")

    async def test_the_coordinator_closes_a_request_with_a_reason_and_withdraws_its_proposals(self, client, auth):
        d = await doctor(client, auth)
        coordinator = auth("coordinator")
        patient = await request(client, coordinator)
        proposal = await propose(client, coordinator, patient["id"], d["id"])
        reasonless = await client.post(f"/v1/mt-requests/{patient['id']}/close", headers=coordinator, json={})
        assert (reasonless.status_code, reasonless.json()["field"]) == (422, "reason")
        closed = await client.post(f"/v1/mt-requests/{patient['id']}/close", headers=coordinator,
                                   json={"reason": "moved"})
        assert (closed.json()["state"], closed.json()["closed_reason"]) == ("closed", "moved")
        assert closed.json()["proposals"][0]["state"] == "withdrawn"
        late = await client.post(f"/v1/mt-proposals/{proposal['id']}/accept", headers=d["headers"])
        assert late.status_code == 409
