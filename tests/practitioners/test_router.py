from __future__ import annotations

from tests.support.factories import create_cpts, create_practitioner, new_rpps


class TestCreatePractitioner:
    async def test_an_admin_enrols_a_doctor_with_a_valid_rpps(self, client, auth):
        created = await create_practitioner(client, auth("admin"), ["36", "18"])
        assert len(created["rpps"]) == 11
        assert created["territory_codes"] == ["18", "36"]
        fetched = await client.get(f"/v1/practitioners/{created['id']}", headers=auth("admin"))
        assert fetched.json()["rpps"] == created["rpps"]

    async def test_an_rpps_with_a_wrong_check_digit_is_422_naming_the_field(self, client, auth):
        rpps = new_rpps()
        wrong = rpps[:-1] + str((int(rpps[-1]) + 1) % 10)
        body = {"rpps": wrong, "family_name": "A", "given_name": "B", "territory_codes": ["36"]}
        response = await client.post("/v1/practitioners", json=body, headers=auth("admin"))
        assert response.status_code == 422
        assert response.json()["field"] == "rpps"
        assert "check digit" in response.json()["detail"]

    async def test_an_rpps_of_ten_digits_is_422(self, client, auth):
        body = {"rpps": "1234567890", "family_name": "A", "given_name": "B", "territory_codes": ["36"]}
        response = await client.post("/v1/practitioners", json=body, headers=auth("admin"))
        assert response.status_code == 422 and response.json()["field"] == "rpps"

    async def test_a_duplicate_rpps_is_409(self, client, auth):
        first = await create_practitioner(client, auth("admin"))
        body = {"rpps": first["rpps"], "family_name": "A", "given_name": "B", "territory_codes": ["36"]}
        response = await client.post("/v1/practitioners", json=body, headers=auth("admin"))
        assert response.status_code == 409
        assert response.json()["field"] == "rpps"

    async def test_an_unknown_territory_is_422_and_nothing_is_written(self, client, auth):
        rpps = new_rpps()
        body = {"rpps": rpps, "family_name": "A", "given_name": "B", "territory_codes": ["36", "XX"]}
        response = await client.post("/v1/practitioners", json=body, headers=auth("admin"))
        assert response.status_code == 422
        assert response.json()["field"] == "territory_codes.1"
        found = await client.get(f"/v1/practitioners?rpps={rpps}", headers=auth("admin"))
        assert found.json() == []

    async def test_only_an_admin_enrols(self, client, auth):
        body = {"rpps": new_rpps(), "family_name": "A", "given_name": "B", "territory_codes": ["36"]}
        response = await client.post("/v1/practitioners", json=body, headers=auth("regulator"))
        assert response.status_code == 403


class TestPractitionerVisibility:
    async def test_a_regulator_lists_the_doctors_of_its_departement_and_its_cpts(self, client, auth):
        admin = auth("admin")
        await create_cpts(client, admin, "36-issoudun")
        a = await create_practitioner(client, admin, ["36"])
        b = await create_practitioner(client, admin, ["36-issoudun"])
        c = await create_practitioner(client, admin, ["18"])
        listed = (await client.get("/v1/practitioners", headers=auth("regulator", ["36"]))).json()
        ids = {p["id"] for p in listed}
        assert {a["id"], b["id"]} <= ids and c["id"] not in ids
        other = await client.get(f"/v1/practitioners/{c['id']}", headers=auth("regulator", ["36"]))
        assert other.status_code == 404

    async def test_an_effector_sees_only_itself(self, client, auth):
        admin = auth("admin")
        me = await create_practitioner(client, admin)
        other = await create_practitioner(client, admin)
        headers = auth("effector", ["36"], practitioner_id=me["id"])
        assert [p["id"] for p in (await client.get("/v1/practitioners", headers=headers)).json()] == [me["id"]]
        assert (await client.get(f"/v1/practitioners/{other['id']}", headers=headers)).status_code == 404
