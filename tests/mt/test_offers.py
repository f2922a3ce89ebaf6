"""Doctors who take new patients: the doctor's offer, the coordination's list with the capacity left, and the
public list (no token, budgeted by address, only those who opted in, never their load)."""

from __future__ import annotations

from tests.mt.helpers import ISSOUDUN, doctor
from tests.support.factories import create_site


class TestTheDoctorsOffer:
    async def test_a_doctor_declares_his_offer_and_reads_it_back_with_his_capacity_left(self, client, auth):
        d = await doctor(client, auth, per_month=3, publics=["ald", "elderly"])
        mine = await client.get("/v1/practitioners/me/new-patients", headers=d["headers"])
        assert mine.status_code == 200
        body = mine.json()
        assert (body["accepting"], body["per_month"], body["publics"], body["site_ids"]) == (
            True, 3, ["ald", "elderly"], [d["site"]["id"]])
        assert (body["taken_this_month"], body["capacity_left"]) == (0, 3)

    async def test_a_doctor_who_stops_accepting_has_no_capacity_left(self, client, auth):
        d = await doctor(client, auth)
        other = auth("effector", ["36"], practitioner_id=d["id"])
        await client.put("/v1/practitioners/me/new-patients", headers=other, json={
            "accepting": False, "per_month": 0})
        body = (await client.get("/v1/practitioners/me/new-patients", headers=other)).json()
        assert (body["accepting"], body["capacity_left"], body["site_ids"]) == (False, 0, [])

    async def test_a_site_not_his_own_an_unknown_public_or_no_capacity_is_422_naming_the_field(self, client, auth):
        d = await doctor(client, auth)
        elsewhere = await create_site(client, auth("admin", []), "36", **ISSOUDUN)
        base = {"accepting": True, "per_month": 2, "publics": ["any"], "site_ids": [d["site"]["id"]]}
        for change, field in (({"site_ids": [elsewhere["id"]]}, "site_ids"), ({"publics": ["teenagers"]}, "publics.0"),
                              ({"per_month": 0}, "per_month"), ({"publics": []}, "publics"),
                              ({"site_ids": []}, "site_ids"), ({"until": "2001-01-01"}, "until"),
                              ({"per_month": 1000}, "per_month")):
            refused = await client.put("/v1/practitioners/me/new-patients", headers=d["headers"],
                                       json={**base, **change})
            assert (refused.status_code, refused.json()["field"]) == (422, field), (change, refused.text)


class TestTheCoordinationsList:
    async def test_the_coordinator_lists_the_doctors_of_his_territory_with_their_capacity(self, client, auth):
        taking = await doctor(client, auth, per_month=4, publics=["children"])
        await doctor(client, auth, accepting=False, family_name="Zola")
        await doctor(client, auth, territory="18", family_name="Cher")
        listed = await client.get("/v1/new-patient-doctors", params={"territory": "36"},
                                  headers=auth("coordinator", ["36"]))
        assert listed.status_code == 200
        assert [(d["practitioner_id"], d["capacity_left"], d["publics"]) for d in listed.json()] == [
            (taking["id"], 4, ["children"])]
        assert listed.json()[0]["sites"][0]["id"] == taking["site"]["id"]
        regulator = await client.get("/v1/new-patient-doctors", params={"territory": "36"}, headers=auth("regulator"))
        assert regulator.json() == listed.json()

    async def test_another_territorys_coordinator_finds_no_such_territory(self, client, auth):
        await doctor(client, auth)
        cher = await client.get("/v1/new-patient-doctors", params={"territory": "36"},
                                headers=auth("coordinator", ["18"]))
        assert (cher.status_code, cher.json()["field"]) == (404, "territory")


class TestThePublicList:
    async def test_only_doctors_who_opted_in_appear_without_their_load_and_without_a_token(self, client, auth):
        await doctor(client, auth, public_listing=True, family_name="Public", publics=["ald"])
        await doctor(client, auth, public_listing=False, family_name="Discret")
        listed = await client.get("/v1/public/new-patient-doctors", params={"territory": "36"})
        assert listed.status_code == 200, listed.text
        assert [d["name"] for d in listed.json()] == ["Dr Claire Public"]
        shown = listed.json()[0]
        assert set(shown) == {"name", "specialty", "publics", "sites"}
        assert shown["publics"] == ["ald"] and shown["sites"][0]["postcode"] == "36000"

    async def test_an_address_past_its_budget_is_429(self, app, client, auth):
        app.state.limiter.per_minute["public_list"] = 2
        statuses = [(await client.get("/v1/public/new-patient-doctors", params={"territory": "36"})).status_code
                    for _ in range(3)]
        assert statuses == [200, 200, 429]

    async def test_an_unknown_territory_is_404(self, client):
        missing = await client.get("/v1/public/new-patient-doctors", params={"territory": "99x"})
        assert (missing.status_code, missing.json()["field"]) == (404, "territory")
