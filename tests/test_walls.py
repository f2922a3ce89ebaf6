"""Walls between territories hold for every role: what belongs to another territory does not exist."""

from __future__ import annotations

from tests.support.factories import create_cpts, create_practitioner, create_site


class TestWalls:
    async def test_an_effector_of_the_cher_neither_reads_nor_lists_a_site_of_the_indre(self, client, auth):
        admin = auth("admin")
        site_36 = await create_site(client, admin, "36")
        site_18 = await create_site(client, admin, "18")
        doctor = await create_practitioner(client, admin, ["18"])
        cher = auth("effector", ["18"], practitioner_id=doctor["id"])
        assert (await client.get(f"/v1/sites/{site_36['id']}", headers=cher)).status_code == 404
        assert (await client.get(f"/v1/sites/{site_18['id']}", headers=cher)).status_code == 200
        listed = {s["id"] for s in (await client.get("/v1/sites", headers=cher)).json()}
        assert site_18["id"] in listed and site_36["id"] not in listed

    async def test_an_effector_filtering_practitioners_on_another_territory_gets_nobody(self, client, auth):
        doctor = await create_practitioner(client, auth("admin"), ["18"])
        cher = auth("effector", ["18"], practitioner_id=doctor["id"])
        assert (await client.get("/v1/practitioners", params={"territory": "36"}, headers=cher)).json() == []
        mine = (await client.get("/v1/practitioners", params={"territory": "18"}, headers=cher)).json()
        assert [p["id"] for p in mine] == [doctor["id"]]
        other_rpps = "10000000008" if doctor["rpps"] != "10000000008" else "10000000016"
        assert (await client.get("/v1/practitioners", params={"rpps": other_rpps}, headers=cher)).json() == []
        by_rpps = (await client.get("/v1/practitioners", params={"rpps": doctor["rpps"]}, headers=cher)).json()
        assert [p["id"] for p in by_rpps] == [doctor["id"]]

    async def test_territories_are_read_within_ones_own_and_their_cpts(self, client, auth):
        await create_cpts(client, auth("admin"), "36-issoudun")
        indre = auth("regulator", ["36"])
        codes = {t["code"] for t in (await client.get("/v1/territories", headers=indre)).json()}
        assert codes == {"36", "36-issoudun"}
        assert (await client.get("/v1/territories/36-issoudun", headers=indre)).status_code == 200
        assert (await client.get("/v1/territories/18", headers=indre)).status_code == 404
        everything = (await client.get("/v1/territories", headers=auth("admin"))).json()
        assert len(everything) > 100


class TestTheCoordinator:
    async def test_an_administrator_registers_a_coordinator_who_is_walled_to_his_territories(self, client, auth):
        admin = auth("admin")
        created = await client.post("/v1/users", json={"subject": "coordination-cpts-issoudun",
                                                       "display_name": "Coordination CPTS", "role": "coordinator",
                                                       "territories": ["36"]}, headers=admin)
        assert created.status_code == 201, created.text
        assert (created.json()["role"], created.json()["territories"]) == ("coordinator", ["36"])
        listed = await client.get("/v1/users", params={"role": "coordinator"}, headers=admin)
        assert [u["id"] for u in listed.json()] == [created.json()["id"]]
        site_36 = await create_site(client, admin, "36")
        site_18 = await create_site(client, admin, "18")
        doctor_18 = await create_practitioner(client, admin, ["18"])
        coordinator = auth("coordinator", ["36"])
        assert (await client.get("/v1/territories/36", headers=coordinator)).status_code == 200
        assert (await client.get("/v1/territories/18", headers=coordinator)).status_code == 404
        assert (await client.get(f"/v1/sites/{site_36['id']}", headers=coordinator)).status_code == 200
        assert (await client.get(f"/v1/sites/{site_18['id']}", headers=coordinator)).status_code == 404
        assert (await client.get(f"/v1/practitioners/{doctor_18['id']}", headers=coordinator)).status_code == 404
        # Nothing of the regulation's: calls are not his.
        assert (await client.get("/v1/calls", headers=coordinator)).status_code == 403
