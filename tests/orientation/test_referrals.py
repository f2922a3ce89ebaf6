"""Referrals by city professionals (role referrer): a call in the queue, or a slot booked at once;
counted by kind of referrer."""

from __future__ import annotations

import datetime as dt

import jwt
from sqlalchemy import text

from app.identity import crypto
from tests.bookings.helpers import make_call, make_slot, now, scalar, world
from tests.stats.helpers import monthly, this_month

PATIENT = {"family_name": "Leroy", "given_name": "Anne", "birth_year": 1961, "phone": "02 54 11 22 33"}


class TestReferral:
    async def test_a_pharmacist_refers_a_patient_who_waits_in_the_queue(self, client, auth, connection):
        pharmacist = auth("referrer", ["36"], sub="ph-gare", referrer_kind="pharmacist")
        response = await client.post("/v1/referrals", json={
            "territory_code": "36", "patient": PATIENT, "reason": "fièvre et toux depuis 3 jours", "priority": "P2"},
            headers=pharmacist)
        assert response.status_code == 201, response.text
        call = response.json()
        assert (call["channel"], call["referrer_kind"], call["status"]) == ("professionnel", "pharmacist", "waiting")
        assert "patient" not in call and "reason" not in call
        sealed = await scalar(connection, "SELECT patient_phone FROM calls WHERE id = :id", id=call["id"])
        assert crypto.ring().open(sealed, "patient_phone") == "0254112233" != sealed

        queue = await client.get("/v1/calls", params={"status": "waiting"}, headers=auth("operator", ["36"]))
        assert call["id"] in [c["id"] for c in queue.json()]
        mine = await client.get("/v1/referrals", headers=pharmacist)
        assert [c["id"] for c in mine.json()] == [call["id"]]
        other = await client.get("/v1/referrals", headers=auth("referrer", ["36"], sub="ide-1", referrer_kind="nurse"))
        assert other.json() == []
        # the referrer does not read the call itself, nor the queue
        assert (await client.get(f"/v1/calls/{call['id']}", headers=pharmacist)).status_code == 403
        assert (await client.get("/v1/calls", headers=pharmacist)).status_code == 403

    async def test_what_is_refused(self, client, auth):
        nurse = auth("referrer", ["36"], referrer_kind="nurse")
        no_phone = await client.post("/v1/referrals", json={
            "territory_code": "36", "patient": {"family_name": "X"}, "reason": "douleur"}, headers=nurse)
        assert no_phone.status_code == 422 and no_phone.json()["field"] == "patient.phone", no_phone.text
        elsewhere = await client.post("/v1/referrals", json={
            "territory_code": "18", "patient": PATIENT, "reason": "douleur"}, headers=nurse)
        assert elsewhere.status_code == 404 and elsewhere.json()["field"] == "territory_code"
        regulator = await client.post("/v1/referrals", json={
            "territory_code": "36", "patient": PATIENT, "reason": "douleur"}, headers=auth("regulator", ["36"]))
        assert regulator.status_code == 403

    async def test_a_referrer_books_a_slot_for_the_patient_in_front_of_him(self, client, auth, connection):
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        nurse = auth("referrer", ["36"], sub="ide-bourg", referrer_kind="nurse")
        found = await client.get("/v1/slots/search", params={"territory": "36"}, headers=nurse)
        assert slot in [s["id"] for s in found.json()["items"]]
        booked = await client.post("/v1/bookings", json={"slot_id": slot, "patient": PATIENT,
                                                         "reason": "plaie à suturer"}, headers=nurse)
        assert booked.status_code == 201, booked.text
        call = (await connection.execute(text(
            "SELECT channel, referrer_kind, intent_without_sas, status FROM calls WHERE id = :id"),
            {"id": booked.json()["call_id"]})).one()
        assert tuple(call) == ("professionnel", "nurse", "inconnu", "in_progress")
        # he reads and cancels his own booking, not those of others
        assert (await client.get(f"/v1/bookings/{booked.json()['id']}", headers=nurse)).status_code == 200
        other_slot = await make_slot(client, auth, w, start=now() + dt.timedelta(hours=6))
        regular = await client.post("/v1/bookings", json={"slot_id": other_slot, "call_id": (await make_call(
            client, auth))["id"]}, headers=auth("operator", ["36"]))
        assert (await client.get(f"/v1/bookings/{regular.json()['id']}", headers=nurse)).status_code == 404
        assert [b["id"] for b in (await client.get("/v1/bookings", headers=nurse)).json()] == [booked.json()["id"]]
        # he never books for a call of the regulation
        for_call = await client.post("/v1/bookings", json={"slot_id": other_slot, "call_id": regular.json()["call_id"]},
                                     headers=nurse)
        assert for_call.status_code == 403 and for_call.json()["field"] == "call_id"

    async def test_the_report_breaks_referrals_down_by_kind(self, client, auth):
        for kind, n in (("pharmacist", 2), ("nurse", 1)):
            for _ in range(n):
                response = await client.post("/v1/referrals", json={
                    "territory_code": "36", "patient": PATIENT, "reason": "r"},
                    headers=auth("referrer", ["36"], referrer_kind=kind))
                assert response.status_code == 201
        await make_call(client, auth)
        month = this_month()
        total = (await monthly(client, auth("analyst", ["36"]), first=month, last=month))["total"]
        assert total["calls"] == 4 and total["calls_by_channel"]["professionnel"] == 3
        assert total["calls_by_referrer"] == {"pharmacist": 2, "nurse": 1, "medical_secretary": 0,
                                              "social_worker": 0, "other_professional": 0, "self": 0}


class TestReferrerToken:
    async def test_a_referrer_token_without_its_kind_is_refused(self, client, settings):
        token = jwt.encode({"sub": "x", "role": "referrer", "territories": ["36"], "exp": 4102444800,
                            "iss": settings.jwt_issuer}, settings.jwt_secret, algorithm="HS256")
        response = await client.get("/v1/referrals", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401 and "referrer_kind" in response.json()["detail"]
