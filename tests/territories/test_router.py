from __future__ import annotations

import httpx

from tests.support.factories import create_cpts


class TestSeededDepartements:
    async def test_the_101_departements_are_there_with_their_time_zones(self, client: httpx.AsyncClient, auth):
        rows = (await client.get("/v1/territories?kind=departement&limit=1000", headers=auth("admin"))).json()
        assert len(rows) == 101
        by_code = {r["code"]: r for r in rows}
        assert by_code["36"]["name"] == "Indre"
        assert by_code["2A"]["name"] == "Corse-du-Sud" and by_code["2B"]["timezone"] == "Europe/Paris"
        assert by_code["974"]["timezone"] == "Indian/Reunion"
        assert by_code["976"]["timezone"] == "Indian/Mayotte"
        assert by_code["971"]["timezone"] == "America/Guadeloupe"
        assert by_code["972"]["timezone"] == "America/Martinique"
        assert by_code["973"]["timezone"] == "America/Cayenne"
        assert sum(1 for r in rows if r["timezone"] != "Europe/Paris") == 5

    async def test_defaults_hold_the_callback_targets(self, client, auth):
        body = (await client.get("/v1/territories/36", headers=auth("operator"))).json()
        assert body["priority_delays"] == {"P1": 20, "P2": 60, "P3": 180}
        assert body["avoided_ed_method"] == "declared_intent"


class TestCreateTerritory:
    async def test_an_admin_creates_a_cpts_under_its_departement(self, client, auth):
        created = await create_cpts(client, auth("admin"), "36-chateauroux", name="CPTS Châteauroux and Co")
        assert created["parent_code"] == "36" and created["kind"] == "cpts"
        listed = (await client.get("/v1/territories?parent=36", headers=auth("operator"))).json()
        assert [t["code"] for t in listed] == ["36-chateauroux"]

    async def test_a_time_zone_that_does_not_exist_is_422_naming_the_field(self, client, auth):
        body = {"code": "36-x", "name": "X", "kind": "cpts", "parent_code": "36", "timezone": "Europe/Châteauroux"}
        response = await client.post("/v1/territories", json=body, headers=auth("admin"))
        assert response.status_code == 422
        assert response.json()["field"] == "timezone"
        assert "time zone" in response.json()["detail"]

    async def test_a_cpts_without_parent_is_422(self, client, auth):
        body = {"code": "36-x", "name": "X", "kind": "cpts", "timezone": "Europe/Paris"}
        response = await client.post("/v1/territories", json=body, headers=auth("admin"))
        assert response.status_code == 422
        assert "parent_code" in response.json()["detail"]

    async def test_an_unknown_parent_is_422_and_nothing_is_written(self, client, auth):
        body = {"code": "36-x", "name": "X", "kind": "cpts", "parent_code": "99", "timezone": "Europe/Paris"}
        response = await client.post("/v1/territories", json=body, headers=auth("admin"))
        assert response.status_code == 422
        assert response.json()["field"] == "parent_code"
        assert (await client.get("/v1/territories/36-x", headers=auth("admin"))).status_code == 404

    async def test_a_cpts_cannot_sit_under_a_cpts(self, client, auth):
        await create_cpts(client, auth("admin"), "36-a")
        body = {"code": "36-b", "name": "B", "kind": "cpts", "parent_code": "36-a", "timezone": "Europe/Paris"}
        response = await client.post("/v1/territories", json=body, headers=auth("admin"))
        assert response.status_code == 422

    async def test_a_duplicate_code_is_409(self, client, auth):
        body = {"code": "36", "name": "Indre", "kind": "departement", "timezone": "Europe/Paris"}
        response = await client.post("/v1/territories", json=body, headers=auth("admin"))
        assert response.status_code == 409
        assert response.json()["error"] == "Conflict"

    async def test_an_unknown_field_is_422(self, client, auth):
        body = {"code": "36-x", "name": "X", "kind": "cpts", "parent_code": "36", "colour": "red"}
        response = await client.post("/v1/territories", json=body, headers=auth("admin"))
        assert response.status_code == 422
        assert response.json()["field"] == "colour"

    async def test_a_wrong_type_is_422(self, client, auth):
        body = {"code": 36, "name": "X", "kind": "departement"}
        response = await client.post("/v1/territories", json=body, headers=auth("admin"))
        assert response.status_code == 422
        assert response.json()["field"] == "code"


class TestTerritorySettings:
    async def test_an_admin_sets_the_avoided_ed_estimator_and_callback_targets(self, client, auth):
        body = {"avoided_ed_method": "coefficients",
                "avoided_ed_coefficients": {"advice": 0.2, "slot": 0.4, "prescription": 0.1, "other": 0},
                "priority_delays": {"P1": 15, "P2": 45, "P3": 120}}
        response = await client.patch("/v1/territories/36", json=body, headers=auth("admin"))
        assert response.status_code == 200, response.text
        assert response.json()["avoided_ed_method"] == "coefficients"
        assert response.json()["priority_delays"]["P1"] == 15

    async def test_a_coefficient_above_one_is_422(self, client, auth):
        body = {"avoided_ed_coefficients": {"advice": 1.5, "slot": 0.4, "prescription": 0.1, "other": 0}}
        response = await client.patch("/v1/territories/36", json=body, headers=auth("admin"))
        assert response.status_code == 422
        assert response.json()["field"] == "avoided_ed_coefficients.advice"


class TestUnstorableInput:
    async def test_a_nul_character_is_422_naming_the_field(self, client, auth):
        body = {"code": "36-x", "name": "A\u0000B", "kind": "cpts", "parent_code": "36"}
        response = await client.post("/v1/territories", json=body, headers=auth("admin"))
        assert response.status_code == 422
        assert response.json()["field"] == "name"

    async def test_a_nul_character_in_a_query_parameter_is_not_a_server_error(self, client, auth):
        response = await client.get("/v1/territories?parent=3%006", headers=auth("admin"))
        assert response.status_code in (200, 422)
