"""Races on real concurrent connections (every request commits on its own pooled connection): never more
acceptances than a doctor's monthly capacity, never two doctors accepting one patient."""

from __future__ import annotations

import asyncio
from collections import Counter

from tests.bookings.helpers import scalar
from tests.mt.helpers import doctor, propose, request


class TestTheLastCapacity:
    async def test_twenty_proposals_racing_for_a_doctors_last_place_give_exactly_one_acceptance(
        self, committed_client, auth, engine
    ):
        d = await doctor(committed_client, auth, per_month=1)
        coordinators = [auth("coordinator", sub=f"coordinator-{i}") for i in range(20)]
        patients = await asyncio.gather(*(request(committed_client, c) for c in coordinators))
        proposals = await asyncio.gather(*(propose(committed_client, c, p["id"], d["id"])
                                           for c, p in zip(coordinators, patients, strict=True)))
        answers = await asyncio.gather(*(
            committed_client.post(f"/v1/mt-proposals/{p['id']}/accept", headers=d["headers"]) for p in proposals))
        statuses = Counter(r.status_code for r in answers)
        assert statuses == {200: 1, 409: 19}, statuses
        assert {r.json()["error"] for r in answers if r.status_code == 409} == {"CapacityExhausted"}
        assert await scalar(engine, "SELECT sum(taken) FROM mt_capacity WHERE practitioner_id = :p", p=d["id"]) == 1
        assert await scalar(engine, "SELECT count(*) FROM mt_requests WHERE state = 'accepted'") == 1


class TestOnePatientOneDoctor:
    async def test_doctors_accepting_proposals_of_one_patient_at_once_give_one_acceptance(
        self, committed_client, auth, engine
    ):
        doctors = [await doctor(committed_client, auth, family_name=f"Docteur{i}") for i in range(5)]
        coordinator = auth("coordinator")
        patient = await request(committed_client, coordinator)
        proposals = [await propose(committed_client, coordinator, patient["id"], d["id"]) for d in doctors]
        answers = await asyncio.gather(*(
            committed_client.post(f"/v1/mt-proposals/{p['id']}/accept", headers=d["headers"])
            for p, d in zip(proposals, doctors, strict=True)))
        statuses = Counter(r.status_code for r in answers)
        assert statuses == {200: 1, 409: 4}, statuses
        assert await scalar(engine, "SELECT count(*) FROM mt_proposals WHERE state = 'accepted'") == 1
        assert await scalar(engine, "SELECT sum(taken) FROM mt_capacity") == 1
        assert await scalar(engine, "SELECT count(*) FROM mt_proposals WHERE state = 'withdrawn'") == 4
