"""The waiting list of patients without a médecin traitant: each source, the priority and its reasons, the
coordinator's adjustment, identity sealed at rest, the reads audited, and the walls."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text
from structlog.testing import capture_logs

from tests.mt.helpers import ADULT, doctor, request

YEAR = dt.date.today().year


class TestEachSource:
    async def test_the_regulation_enters_a_request_from_a_call_and_the_patient_is_copied_from_it(self, client, auth):
        call = await client.post("/v1/calls", headers=auth("operator"), json={
            "territory_code": "36", "channel": "15", "patient": {
                "family_name": "Lebrun", "given_name": "Paul", "birth_year": YEAR - 3, "phone": "0622334455",
                "postcode": "36100"}})
        assert call.status_code == 201, call.text
        made = await client.post("/v1/mt-requests", headers=auth("regulator"), json={
            "territory_code": "36", "source": "regulation", "call_id": call.json()["id"]})
        assert made.status_code == 201, made.text
        body = made.json()
        assert (body["source"], body["state"], body["call_id"]) == ("regulation", "waiting", call.json()["id"])
        assert (body["patient"]["family_name"], body["patient"]["phone"], body["postcode"]) == (
            "Lebrun", "0622334455", "36100")
        assert body["matching_publics"] == ["children"]
        assert (body["priority"], body["priority_reasons"]) == ("medium", ["child_under_6", "snp_visit"])

    async def test_an_effector_a_referrer_and_a_coordinator_enter_theirs(self, client, auth):
        d = await doctor(client, auth)
        after_visit = await request(client, d["headers"], source="effector")
        assert (after_visit["priority"], after_visit["priority_reasons"]) == ("medium", ["snp_visit"])
        referred = await request(client, auth("referrer", referrer_kind="pharmacist"), source="referrer",
                                 publics=["ald"])
        assert (referred["source"], referred["referrer_kind"], referred["priority"]) == ("referrer", "pharmacist",
                                                                                         "high")
        coordinated = await request(client, auth("coordinator"), source="coordinator")
        assert (coordinated["priority"], coordinated["priority_reasons"]) == ("normal", [])

    async def test_a_source_not_ones_own_self_and_import_and_a_missing_phone_are_422(self, client, auth):
        for headers, source in ((auth("operator"), "coordinator"), (auth("coordinator"), "self"),
                                (auth("coordinator"), "import"), (auth("referrer"), "regulation")):
            refused = await request(client, headers, source=source, expect=422)
            assert refused["field"] == "source", refused
        phoneless = await request(client, auth("coordinator"), phone=None, expect=422)
        assert phoneless["field"] == "patient.phone"
        unknown = await request(client, auth("coordinator"), postcode="99999", expect=422)
        assert unknown["field"] == "patient.postcode"
        child = await request(client, auth("coordinator"), publics=["children"], expect=422)
        assert child["field"] == "publics.0"
        from_call = await client.post("/v1/mt-requests", headers=auth("coordinator"), json={
            "territory_code": "36", "source": "coordinator", "call_id": "00000000-0000-0000-0000-000000000001",
            "patient": {"phone": "0611223344"}})
        assert (from_call.status_code, from_call.json()["field"]) == (422, "call_id")
        analyst = await client.post("/v1/mt-requests", headers=auth("analyst"), json={
            "territory_code": "36", "source": "coordinator"})
        assert analyst.status_code == 403


class TestThePriority:
    async def test_the_rule_ald_pregnancy_disability_high_young_old_or_after_a_visit_medium(self, client, auth):
        coordinator = auth("coordinator")
        cases = [(["pregnancy"], ADULT, "high", ["pregnancy"]),
                 (["disability", "ald"], ADULT, "high", ["ald", "disability"]),
                 ([], YEAR - 70, "medium", ["elderly_70"]), ([], YEAR - 69, "normal", []),
                 ([], YEAR - 5, "medium", ["child_under_6"]), ([], YEAR - 6, "normal", [])]
        for publics, born, priority, reasons in cases:
            made = await request(client, coordinator, publics=publics, birth_year=born)
            assert (made["priority"], made["priority_reasons"]) == (priority, reasons), (publics, born)

    async def test_the_coordinator_adjusts_it_with_a_reason_and_it_is_audited(self, client, auth):
        made = await request(client, auth("coordinator"))
        url = f"/v1/mt-requests/{made['id']}/priority"
        reasonless = await client.post(url, headers=auth("coordinator"), json={"priority": "high"})
        assert (reasonless.status_code, reasonless.json()["field"]) == (422, "reason")
        assert (await client.post(url, headers=auth("regulator"), json={"priority": "high", "reason": "x"})
                ).status_code == 403
        adjusted = await client.post(url, headers=auth("coordinator", sub="coord-1"),
                                     json={"priority": "high", "reason": "isolement social"})
        assert adjusted.status_code == 200, adjusted.text
        body = adjusted.json()
        assert (body["priority"], body["priority_computed"]) == ("high", "normal")
        assert (body["priority_adjustment"]["by"], body["priority_adjustment"]["reason"]) == ("coord-1",
                                                                                             "isolement social")
        trail = await client.get("/v1/audit", params={"action": "mt_request.priority_adjusted"},
                                 headers=auth("admin", []))
        assert [e["detail"]["mt_request_id"] for e in trail.json()] == [made["id"]]


class TestTheWaitingList:
    async def test_it_is_ordered_by_priority_then_the_oldest_first_and_filtered(self, client, auth):
        coordinator = auth("coordinator")
        first_normal = await request(client, coordinator)
        high = await request(client, coordinator, publics=["ald"])
        second_normal = await request(client, coordinator)
        medium = await request(client, coordinator, birth_year=YEAR - 80)
        listed = await client.get("/v1/mt-requests", headers=coordinator)
        assert [r["id"] for r in listed.json()] == [high["id"], medium["id"], first_normal["id"], second_normal["id"]]
        assert listed.json()[0]["initials"] == "MD" and "patient" not in listed.json()[0]
        only_high = await client.get("/v1/mt-requests", params={"priority": "high"}, headers=coordinator)
        assert [r["id"] for r in only_high.json()] == [high["id"]]
        waiting = await client.get("/v1/mt-requests", params={"state": "closed"}, headers=coordinator)
        assert waiting.json() == []

    async def test_a_read_of_the_record_is_audited_and_the_identity_is_sealed_at_rest(self, client, auth, connection):
        made = await request(client, auth("coordinator"), family_name="Quennevillard", phone="0647382910",
                             address="12 ruelle Xylophagie")
        read = await client.get(f"/v1/mt-requests/{made['id']}", headers=auth("coordinator", sub="coord-2"))
        assert read.status_code == 200 and read.json()["patient"]["family_name"] == "Quennevillard"
        trail = await client.get("/v1/audit", params={"action": "mt_request.read"}, headers=auth("admin", []))
        assert [(e["actor_sub"], e["detail"]["mt_request_id"]) for e in trail.json()] == [("coord-2", made["id"])]
        row = (await connection.execute(text(
            "SELECT patient_family_name, patient_phone, patient_address FROM mt_requests WHERE id = :id"),
            {"id": made["id"]})).one()
        assert all(value.startswith("e1.") for value in row)
        raw = (await connection.execute(text("SELECT row_to_json(r)::text FROM mt_requests r"))).scalar_one()
        assert "Quennevillard" not in raw and "47382910" not in raw and "Xylophagie" not in raw


    async def test_no_log_line_of_the_whole_flow_holds_the_identity(self, client, auth):
        d = await doctor(client, auth)
        coordinator = auth("coordinator")
        with capture_logs() as logs:
            made = await request(client, coordinator, family_name="Quennevillard", phone="0647382910",
                                 address="12 ruelle Xylophagie")
            await client.get(f"/v1/mt-requests/{made['id']}", headers=coordinator)
            proposal = await client.post(f"/v1/mt-requests/{made['id']}/proposals", headers=coordinator,
                                         json={"practitioner_id": d["id"], "patient_agreed": True})
            await client.post(f"/v1/mt-proposals/{proposal.json()['id']}/accept", headers=d["headers"])
        assert logs and not any(needle in repr(logs) for needle in ("Quennevillard", "47382910", "Xylophagie"))


class TestTheWalls:
    async def test_a_referrer_sees_only_what_he_sent(self, client, auth):
        mine = await request(client, auth("referrer", sub="pharma-1"), source="referrer")
        await request(client, auth("referrer", sub="pharma-2"), source="referrer")
        await request(client, auth("coordinator"))
        listed = await client.get("/v1/mt-requests", headers=auth("referrer", sub="pharma-1"))
        assert [r["id"] for r in listed.json()] == [mine["id"]]
        other = await client.get(f"/v1/mt-requests/{mine['id']}", headers=auth("referrer", sub="pharma-2"))
        assert other.status_code == 404

    async def test_a_coordinator_sees_only_his_territories(self, client, auth):
        indre = await request(client, auth("coordinator", ["36"]))
        cher = await request(client, auth("coordinator", ["18"]), territory="18", postcode="18000")
        listed = await client.get("/v1/mt-requests", headers=auth("coordinator", ["18"]))
        assert [r["id"] for r in listed.json()] == [cher["id"]]
        assert (await client.get(f"/v1/mt-requests/{indre['id']}", headers=auth("coordinator", ["18"]))
                ).status_code == 404
        assert (await client.get("/v1/mt-requests", params={"territory": "36"}, headers=auth("coordinator", ["18"]))
                ).status_code == 404
        elsewhere = await request(client, auth("coordinator", ["18"]), territory="36", expect=404)
        assert elsewhere["field"] == "territory_code"

    async def test_an_analyst_reads_nothing_nominative(self, client, auth):
        made = await request(client, auth("coordinator"))
        analyst = auth("analyst")
        for path in ("/v1/mt-requests", f"/v1/mt-requests/{made['id']}", f"/v1/mt-requests/{made['id']}/candidates"):
            assert (await client.get(path, headers=analyst)).status_code == 403, path

    async def test_the_regulation_reads_what_the_regulation_entered_and_nothing_else(self, client, auth):
        """The patient is told only the coordination and the doctor who accepts him read his own request."""
        ours = await request(client, auth("operator", ["36"], sub="op-1"), source="regulation")
        theirs = await request(client, auth("coordinator", ["36"]))
        for reader in (auth("operator", ["36"], sub="op-2"), auth("regulator", ["36"])):
            listed = await client.get("/v1/mt-requests", headers=reader)
            assert [r["id"] for r in listed.json()] == [ours["id"]]
            assert (await client.get(f"/v1/mt-requests/{theirs['id']}", headers=reader)).status_code == 404
            assert (await client.get(f"/v1/mt-requests/{ours['id']}", headers=reader)).status_code == 200

    async def test_the_coordinators_reason_for_a_priority_is_for_the_coordination_only(self, client, auth):
        martin = await doctor(client, auth)
        made = await request(client, auth("coordinator"))
        adjusted = await client.post(f"/v1/mt-requests/{made['id']}/priority", headers=auth("coordinator"),
                                     json={"priority": "high", "reason": "chimiothérapie en cours"})
        assert adjusted.status_code == 200, adjusted.text
        proposed = await client.post(f"/v1/mt-requests/{made['id']}/proposals", headers=auth("coordinator"),
                                     json={"practitioner_id": martin["id"], "patient_agreed": True})
        assert proposed.status_code == 201, proposed.text
        seen = await client.get(f"/v1/mt-requests/{made['id']}", headers=martin["headers"])
        assert seen.status_code == 200 and seen.json()["priority"] == "high"
        assert seen.json()["priority_adjustment"] is None and "chimiothérapie" not in seen.text
        coordination = await client.get(f"/v1/mt-requests/{made['id']}", headers=auth("coordinator"))
        assert coordination.json()["priority_adjustment"]["reason"] == "chimiothérapie en cours"
