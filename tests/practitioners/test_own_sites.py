"""A doctor's and a site's phone (the regulation calls the doctor to agree an over-capacity appointment),
and the doctor's own sites (``site_ids``), set at enrolment by an administrator, then by himself or an
administrator."""

from __future__ import annotations

import uuid

from tests.support.factories import create_cpts, create_practitioner, create_site, new_rpps


class TestPhones:
    async def test_a_doctor_and_a_site_keep_their_phone_without_separators(self, client, auth):
        admin = auth("admin", [])
        site = await create_site(client, admin, phone="02 54 00 00 00")
        assert site["phone"] == "0254000000"
        assert (await client.get(f"/v1/sites/{site['id']}", headers=admin)).json()["phone"] == "0254000000"
        doctor = await create_practitioner(client, admin, phone="+33 6 11.22.33.44")
        assert doctor["phone"] == "+33611223344"
        listed = await client.get("/v1/practitioners", params={"rpps": doctor["rpps"]},
                                  headers=auth("regulator", ["36"]))
        assert listed.json()[0]["phone"] == "+33611223344"

    async def test_a_phone_that_is_no_phone_is_422_naming_it(self, client, auth):
        admin = auth("admin", [])
        site = await client.post("/v1/sites", headers=admin, json={
            "name": "Cabinet", "kind": "cabinet", "address": "1 rue", "postcode": "36000", "lat": 46.8,
            "lon": 1.69, "territory_code": "36", "phone": "appelez-moi"})
        assert site.status_code == 422 and site.json()["field"] == "phone", site.text
        doctor = await create_practitioner(client, admin)
        me = auth("effector", practitioner_id=doctor["id"])
        refused = await client.patch("/v1/practitioners/me", json={"phone": "12"}, headers=me)
        assert refused.status_code == 422 and refused.json()["field"] == "phone", refused.text

    async def test_the_doctor_sets_his_phone_and_null_removes_it(self, client, auth):
        doctor = await create_practitioner(client, auth("admin", []), phone="0611223344")
        me = auth("effector", practitioner_id=doctor["id"])
        changed = await client.patch("/v1/practitioners/me", json={"phone": "0254 11 22 33"}, headers=me)
        assert changed.status_code == 200 and changed.json()["phone"] == "0254112233", changed.text
        left = await client.patch("/v1/practitioners/me", json={"languages": ["fr", "en"]}, headers=me)
        assert left.json()["phone"] == "0254112233"  # left out, left as it is
        removed = await client.patch("/v1/practitioners/me", json={"phone": None}, headers=me)
        assert removed.json()["phone"] is None


class TestOwnSites:
    async def test_an_admin_gives_them_at_enrolment_and_everyone_reads_them(self, client, auth):
        admin = auth("admin", [])
        first, second = await create_site(client, admin, name="A"), await create_site(client, admin, name="B")
        doctor = await create_practitioner(client, admin, site_ids=[second["id"], first["id"], second["id"]])
        assert doctor["site_ids"] == [first["id"], second["id"]]  # by name, once each
        read = await client.get(f"/v1/practitioners/{doctor['id']}", headers=auth("regulator", ["36"]))
        assert read.json()["site_ids"] == [first["id"], second["id"]]

    async def test_the_doctor_sets_his_sites_himself_and_an_empty_list_clears_them(self, client, auth):
        admin = auth("admin", [])
        site = await create_site(client, admin)
        doctor = await create_practitioner(client, admin)
        assert doctor["site_ids"] == [] and doctor["phone"] is None
        me = auth("effector", practitioner_id=doctor["id"])
        response = await client.patch("/v1/practitioners/me", json={
            "site_ids": [site["id"]], "accepts_over_capacity": True, "phone": "0611223344"}, headers=me)
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["site_ids"], body["accepts_over_capacity"], body["phone"]) == ([site["id"]], True, "0611223344")
        untouched = await client.patch("/v1/practitioners/me", json={"accepts_over_capacity": False}, headers=me)
        assert untouched.json()["site_ids"] == [site["id"]]
        cleared = await client.patch("/v1/practitioners/me", json={"site_ids": []}, headers=me)
        assert cleared.json()["site_ids"] == []

    async def test_a_site_of_a_cpts_under_his_departement_is_his_to_claim(self, client, auth):
        admin = auth("admin", [])
        await create_cpts(client, admin, "cpts-own-sites")
        site = await create_site(client, admin, territory="cpts-own-sites")
        doctor = await create_practitioner(client, admin, ["36"], site_ids=[site["id"]])
        assert doctor["site_ids"] == [site["id"]]

    async def test_an_unknown_site_or_one_outside_his_territories_is_422_naming_site_ids(self, client, auth):
        admin = auth("admin", [])
        cher = await create_site(client, admin, territory="18", postcode="18000")
        ours = await create_site(client, admin)
        rpps = new_rpps()
        outside = await client.post("/v1/practitioners", headers=admin, json={
            "rpps": rpps, "family_name": "A", "given_name": "B", "territory_codes": ["36"],
            "site_ids": [ours["id"], cher["id"]]})
        assert outside.status_code == 422 and outside.json()["field"] == "site_ids", outside.text
        assert "site_ids[1]" in outside.json()["detail"] and "does not serve" in outside.json()["detail"]
        assert (await client.get("/v1/practitioners", params={"rpps": rpps},
                                 headers=admin)).json() == []  # nothing written
        doctor = await create_practitioner(client, admin, site_ids=[ours["id"]])
        me = auth("effector", practitioner_id=doctor["id"])
        unknown = await client.patch("/v1/practitioners/me", json={"site_ids": [str(uuid.uuid4())]}, headers=me)
        assert unknown.status_code == 422 and unknown.json()["field"] == "site_ids", unknown.text
        assert "unknown site" in unknown.json()["detail"]
        not_served = await client.patch("/v1/practitioners/me", json={"site_ids": [cher["id"]]}, headers=me)
        assert not_served.status_code == 422 and not_served.json()["field"] == "site_ids"
        malformed = await client.patch("/v1/practitioners/me", json={"site_ids": ["nope"]}, headers=me)
        assert malformed.status_code == 422 and malformed.json()["field"].startswith("site_ids"), malformed.text
        kept = await client.get(f"/v1/practitioners/{doctor['id']}", headers=me)
        assert kept.json()["site_ids"] == [ours["id"]]  # a refusal changes nothing


class TestAdminUpdate:
    async def test_an_admin_sets_a_doctors_settings_as_he_would(self, client, auth):
        admin = auth("admin", [])
        site = await create_site(client, admin)
        doctor = await create_practitioner(client, admin)
        response = await client.patch(f"/v1/practitioners/{doctor['id']}", headers=admin, json={
            "site_ids": [site["id"]], "phone": "0254000000", "accepts_over_capacity": True})
        assert response.status_code == 200, response.text
        assert (response.json()["site_ids"], response.json()["phone"]) == ([site["id"]], "0254000000")
        cher = await create_site(client, admin, territory="18", postcode="18000")
        refused = await client.patch(f"/v1/practitioners/{doctor['id']}", json={"site_ids": [cher["id"]]},
                                     headers=admin)
        assert refused.status_code == 422 and refused.json()["field"] == "site_ids"
        missing = await client.patch(f"/v1/practitioners/{uuid.uuid4()}", json={"phone": "0254000000"},
                                     headers=admin)
        assert missing.status_code == 404

    async def test_nobody_else_may(self, client, auth):
        doctor = await create_practitioner(client, auth("admin", []))
        for role in ("regulator", "operator", "effector"):
            response = await client.patch(f"/v1/practitioners/{doctor['id']}", json={"phone": "0254000000"},
                                          headers=auth(role, ["36"], practitioner_id=doctor["id"]))
            assert response.status_code == 403, (role, response.text)
