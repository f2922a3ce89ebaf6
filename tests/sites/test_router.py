from __future__ import annotations

from tests.support.factories import create_site


class TestSites:
    async def test_an_admin_registers_a_csnp(self, client, auth):
        site = await create_site(client, auth("admin"), kind="csnp", insee_code="36044")
        assert site["kind"] == "csnp" and site["territory_code"] == "36"
        listed = (await client.get("/v1/sites?territory=36", headers=auth("operator"))).json()
        assert [s["id"] for s in listed] == [site["id"]]

    async def test_coordinates_out_of_range_are_422_naming_the_field(self, client, auth):
        body = {"name": "X", "kind": "cabinet", "address": "a", "postcode": "36000", "lat": 91, "lon": 1.6,
                "territory_code": "36"}
        response = await client.post("/v1/sites", json=body, headers=auth("admin"))
        assert response.status_code == 422 and response.json()["field"] == "lat"

    async def test_an_unknown_kind_is_422(self, client, auth):
        body = {"name": "X", "kind": "hopital", "address": "a", "postcode": "36000", "lat": 46, "lon": 1.6,
                "territory_code": "36"}
        response = await client.post("/v1/sites", json=body, headers=auth("admin"))
        assert response.status_code == 422 and response.json()["field"] == "kind"

    async def test_an_unknown_territory_is_422(self, client, auth):
        body = {"name": "X", "kind": "cabinet", "address": "a", "postcode": "36000", "lat": 46, "lon": 1.6,
                "territory_code": "ZZ"}
        response = await client.post("/v1/sites", json=body, headers=auth("admin"))
        assert response.status_code == 422 and response.json()["field"] == "territory_code"

    async def test_an_operator_of_another_departement_does_not_see_the_site(self, client, auth):
        site = await create_site(client, auth("admin"))
        response = await client.get(f"/v1/sites/{site['id']}", headers=auth("operator", ["18"]))
        assert response.status_code == 404
