from __future__ import annotations

from tests.calls.helpers import PATIENT, create_call


class TestAuditOfReads:
    async def test_every_read_of_a_call_by_a_person_is_recorded(self, client, auth):
        call = await create_call(client, auth("operator"))
        await client.get(f"/v1/calls/{call['id']}", headers=auth("regulator", sub="dr-watson"))
        await client.get(f"/v1/calls/{call['id']}", headers=auth("operator", sub="osnp-7"))
        entries = (await client.get(f"/v1/audit?call_id={call['id']}", headers=auth("admin", []))).json()
        assert [(e["actor_sub"], e["actor_role"], e["action"], e["call_id"]) for e in entries] == [
            ("osnp-7", "operator", "call.read", call["id"]), ("dr-watson", "regulator", "call.read", call["id"])]
        assert PATIENT["family_name"] not in str(entries) and PATIENT["phone"] not in str(entries)

    async def test_a_refused_read_is_not_a_read(self, client, auth):
        call = await create_call(client, auth("operator", ["36"]))
        assert (await client.get(f"/v1/calls/{call['id']}", headers=auth("operator", ["18"]))).status_code == 404
        assert (await client.get(f"/v1/audit?call_id={call['id']}", headers=auth("admin", []))).json() == []

    async def test_the_queue_does_not_count_as_reading_patient_data(self, client, auth):
        call = await create_call(client, auth("operator"))
        await client.get("/v1/calls", headers=auth("operator"))
        assert (await client.get(f"/v1/audit?call_id={call['id']}", headers=auth("admin", []))).json() == []

    async def test_the_audit_filters_by_actor(self, client, auth):
        call = await create_call(client, auth("operator"))
        await client.get(f"/v1/calls/{call['id']}", headers=auth("regulator", sub="dr-a"))
        await client.get(f"/v1/calls/{call['id']}", headers=auth("regulator", sub="dr-b"))
        entries = (await client.get("/v1/audit?actor=dr-b", headers=auth("admin", []))).json()
        assert [e["actor_sub"] for e in entries] == ["dr-b"]


class TestAuditAccess:
    async def test_only_admins_read_the_audit(self, client, auth):
        for role in ("operator", "regulator", "analyst", "urgences"):
            assert (await client.get("/v1/audit", headers=auth(role))).status_code == 403

    async def test_a_malformed_call_id_is_422(self, client, auth):
        response = await client.get("/v1/audit?call_id=nope", headers=auth("admin", []))
        assert response.status_code == 422 and response.json()["field"] == "query.call_id"

    async def test_a_nul_in_a_filter_is_422_not_a_database_error(self, client, auth):
        response = await client.get("/v1/audit?actor=a%00b", headers=auth("admin", []))
        assert response.status_code == 422 and response.json()["field"] == "query.actor"
