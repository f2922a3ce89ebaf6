"""Nothing that can hurt a patient is accepted silently: a call entered live can reach its patient, a
postcode exists and belongs to the territory unless the call says otherwise, an ED redirection names
whom the doctor will see and how to reach him."""

from __future__ import annotations

import datetime as dt

from tests.bookings.helpers import make_slot, world
from tests.calls.helpers import create_call


def _call(**fields):
    return {"territory_code": "36", "channel": "15", **fields}


class TestCalls:
    async def test_a_call_entered_live_needs_a_phone_one_entered_after_the_fact_does_not(self, client, auth):
        operator = auth("operator")
        empty = await client.post("/v1/calls", json=_call(), headers=operator)
        assert empty.status_code == 422 and empty.json()["field"] == "patient.phone", empty.text
        late = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)).isoformat()
        after = await client.post("/v1/calls", json=_call(received_at=late), headers=operator)
        assert after.status_code == 201, after.text

    async def test_a_postcode_must_exist_and_be_the_territory_s_unless_said_otherwise(self, client, auth):
        operator, phone = auth("operator"), {"phone": "0611223344"}
        missing = await client.post("/v1/calls", json=_call(patient={**phone, "postcode": "36999"}), headers=operator)
        assert missing.status_code == 422 and missing.json()["field"] == "patient.postcode"
        assert "36999" in missing.json()["detail"]
        paris = await client.post("/v1/calls", json=_call(patient={**phone, "postcode": "75001"}), headers=operator)
        assert paris.status_code == 422 and paris.json()["field"] == "patient.postcode"
        assert "out_of_territory" in paris.json()["detail"]
        said = await client.post("/v1/calls", json=_call(patient={**phone, "postcode": "75001"}, out_of_territory=True),
                                 headers=operator)
        assert said.status_code == 201 and said.json()["patient"]["postcode"] == "75001"
        home = await client.post("/v1/calls", json=_call(patient={**phone, "postcode": "36100"}), headers=operator)
        assert home.status_code == 201

    async def test_a_correction_is_held_to_the_same_postcode_rules(self, client, auth):
        call = await create_call(client, auth("operator"))
        url = f"/v1/calls/{call['id']}"
        refused = await client.patch(url, json={"patient": {"postcode": "18000"}}, headers=auth("operator"))
        assert refused.status_code == 422 and refused.json()["field"] == "patient.postcode"
        said = await client.patch(url, json={"patient": {"postcode": "18000"}, "out_of_territory": True},
                                  headers=auth("operator"))
        assert said.status_code == 200 and said.json()["patient"]["postcode"] == "18000"


class TestEdRedirections:
    async def test_the_doctor_knows_whom_he_sees_and_the_regulation_can_reach_him(self, client, auth):
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        nurse = auth("urgences", ["36"])

        async def redirect(**body):
            return await client.post("/v1/bookings", json={"slot_id": slot, **body}, headers=nurse)

        for body, field in (({}, "patient.family_name"), ({"patient": {}}, "patient.family_name"),
                            ({"patient": {"family_name": "Petit"}}, "patient.birth_year"),
                            ({"patient": {"family_name": "Petit", "birth_year": 1990}}, "patient.phone"),
                            ({"patient": {"family_name": "Petit", "birth_year": 1990, "phone": "0611223344",
                                          "postcode": "36999"}}, "patient.postcode")):
            refused = await redirect(**body)
            assert refused.status_code == 422 and refused.json()["field"] == field, (body, refused.text)
        booked = await redirect(patient={"family_name": "Petit", "birth_year": 1990}, reason="entorse",
                                no_phone_reason="sans domicile, revient aux urgences à 18 h")
        assert booked.status_code == 201, booked.text
        call = (await client.get(f"/v1/calls/{booked.json()['call_id']}", headers=auth("regulator"))).json()
        assert call["reason"] == "entorse\nPas de téléphone : sans domicile, revient aux urgences à 18 h"


class TestTheQueue:
    async def test_an_ed_redirection_with_its_appointment_leaves_the_queue_and_comes_back_if_cancelled(
        self, client, auth
    ):
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        booked = await client.post("/v1/bookings", headers=auth("urgences", ["36"]), json={
            "slot_id": slot, "patient": {"family_name": "Petit", "birth_year": 1990, "phone": "0611223344"}})
        assert booked.status_code == 201, booked.text
        queue = auth("operator")

        async def open_ids() -> set[str]:
            calls = (await client.get("/v1/calls", params={"open": "true"}, headers=queue)).json()
            return {c["id"] for c in calls}

        assert booked.json()["call_id"] not in await open_ids()  # done: it has its appointment
        await client.post(f"/v1/bookings/{booked.json()['id']}/cancel", headers=auth("regulator"),
                          json={"reason": "médecin empêché"})
        assert booked.json()["call_id"] in await open_ids()  # to re-orient: someone must call him
