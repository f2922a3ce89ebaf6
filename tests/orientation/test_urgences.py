"""The ED's side: a redirection is an avoided ED visit by declared intent, the nurse lists her own
redirections, phone numbers and FINESS numbers are read as everywhere else."""

from __future__ import annotations

import datetime as dt

from app.identity import crypto
from tests.bookings.helpers import make_call, make_slot, now, scalar, world
from tests.stats.helpers import monthly, this_month
from tests.support.factories import REDIRECTED


async def _redirect(client, headers, slot, **body):
    body = {"patient": {**REDIRECTED, "birth_year": 1990}, **body}
    response = await client.post("/v1/bookings", json={"slot_id": slot, **body}, headers=headers)
    return response


class TestRedirection:
    async def test_a_redirection_is_counted_as_an_avoided_ed_visit(self, client, auth, connection):
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        response = await _redirect(client, auth("urgences", ["36"]), slot, patient={**REDIRECTED, "birth_year": 1990})
        assert response.status_code == 201, response.text
        intent = await scalar(connection, "SELECT intent_without_sas FROM calls WHERE id = :id",
                              id=response.json()["call_id"])
        assert intent == "urgences"
        month = this_month()
        report = await monthly(client, auth("analyst", ["36"]), first=month, last=month,
                               avoided_ed_method="declared_intent")
        assert report["total"]["avoided_ed_visits"]["count"] == 1

    async def test_the_phone_is_normalised_as_in_calls(self, client, auth, connection):
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        response = await _redirect(client, auth("urgences", ["36"]), slot,
            patient={**REDIRECTED, "birth_year": 1990, "phone": "06 11.22-33 44"})
        assert response.status_code == 201, response.text
        phone = await scalar(connection, "SELECT patient_phone FROM calls WHERE id = :id",
                             id=response.json()["call_id"])
        assert crypto.ring().open(phone, "patient_phone") == "0611223344" != phone
        other = await make_slot(client, auth, w, start=now() + dt.timedelta(hours=5))
        bad = await _redirect(client, auth("urgences", ["36"]), other,
            patient={**REDIRECTED, "birth_year": 1990, "phone": "appelez-moi"})
        assert bad.status_code == 422 and bad.json()["field"] == "patient.phone", bad.text

    async def test_mine_lists_my_redirections_newest_first_and_nobody_elses(self, committed_client, auth):
        # committed: each booking is a transaction of its own, with its own time, as in production
        client = committed_client
        w = await world(client, auth)
        slots = [await make_slot(client, auth, w, start=now() + dt.timedelta(hours=2 + h)) for h in range(3)]
        me, colleague = auth("urgences", ["36"], sub="ioa-1"), auth("urgences", ["36"], sub="ioa-2")
        first = (await _redirect(client, me, slots[0])).json()
        second = (await _redirect(client, me, slots[1])).json()
        theirs = (await _redirect(client, colleague, slots[2])).json()
        await client.post(f"/v1/bookings/{first['id']}/cancel", headers=me)

        mine = await client.get("/v1/bookings", params={"mine": "true"}, headers=me)
        assert mine.status_code == 200, mine.text
        assert [b["id"] for b in mine.json()] == [second["id"], first["id"]]
        active = await client.get("/v1/bookings", params={"mine": "true", "status": "active"}, headers=me)
        assert [b["id"] for b in active.json()] == [second["id"]]
        everyone = await client.get("/v1/bookings", headers=auth("regulator", ["36"]))
        assert {b["id"] for b in everyone.json()} == {first["id"], second["id"], theirs["id"]}
        assert (await client.get("/v1/bookings", headers=auth("regulator", ["18"]))).json() == []
        effector = await client.get("/v1/bookings", headers=auth("effector", practitioner_id=w.practitioner_id))
        assert len(effector.json()) == 3
        assert (await client.get("/v1/bookings", headers=auth("analyst", ["36"]))).status_code == 403


class TestFiness:
    async def test_a_finess_number_with_a_wrong_key_is_refused(self, client, auth):
        call = await make_call(client, auth)
        url = f"/v1/calls/{call['id']}/decisions"
        regulator = auth("regulator", ["36"])
        wrong = await client.post(url, json={"kind": "prescription", "pharmacy": {"name": "P", "finess": "360000013"}},
                                  headers=regulator)
        assert wrong.status_code == 422 and wrong.json()["field"] == "pharmacy.finess"
        assert "check digit" in wrong.text
        right = await client.post(url, json={"kind": "prescription", "pharmacy": {"name": "P", "finess": "360000012"}},
                                  headers=regulator)
        assert right.status_code == 201, right.text
        corsica = await client.post(url, json={"kind": "prescription",
                                               "pharmacy": {"name": "P", "finess": "2A0000015"}}, headers=regulator)
        assert corsica.status_code == 201, corsica.text
