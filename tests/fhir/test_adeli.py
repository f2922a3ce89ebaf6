"""Practitioners known by ADELI where the guide allows it (``0`` + ADELI beside ``8`` + RPPS: the CPTS
slot search page's "identifiants nationaux des PS" l. 130, the FAQ's prefixes l. 45–56, the appointment
page's participant l. 200): the registry keeps an optional ADELI number, and the facade matches it in
the slot search, the Schedule and Practitioner searches and the appointments declared to us."""

from __future__ import annotations

import datetime as dt

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.practitioner import Practitioner

from tests.fhir.helpers import FHIR, _world, declared
from tests.support.factories import create_practitioner, new_rpps

PS_OID = "urn:oid:1.2.250.1.71.4.2.1"


class TestTheRegistryKeepsAdeli:
    async def test_create_read_patch_and_refusals_name_adeli(self, client, auth) -> None:
        admin = auth("admin")
        made = await create_practitioner(client, admin, ["36"], adeli="361012345")
        assert made["adeli"] == "361012345"
        read = await client.get(f"/v1/practitioners/{made['id']}", headers=admin)
        assert read.json()["adeli"] == "361012345"
        corsican = await create_practitioner(client, admin, ["36"], adeli="2A1012345")
        assert corsican["adeli"] == "2A1012345"
        assert (await create_practitioner(client, admin, ["36"]))["adeli"] is None

        for wrong in ("36101234", "3610123456", "2C1012345", "36101234X", "0361012345"):
            refused = await client.post("/v1/practitioners", json={
                "rpps": new_rpps(), "family_name": "Roux", "given_name": "Agnès", "territory_codes": ["36"],
                "adeli": wrong}, headers=admin)
            assert refused.status_code == 422, (wrong, refused.text)
            assert "adeli" in str(refused.json()["field"]), (wrong, refused.text)
        twice = await client.post("/v1/practitioners", json={
            "rpps": new_rpps(), "family_name": "Roux", "given_name": "Agnès", "territory_codes": ["36"],
            "adeli": "361012345"}, headers=admin)
        assert (twice.status_code, twice.json()["field"]) == (409, "adeli")

        url = f"/v1/practitioners/{corsican['id']}"
        taken = await client.patch(url, json={"adeli": "361012345"}, headers=admin)
        assert (taken.status_code, taken.json()["field"]) == (409, "adeli")
        changed = await client.patch(url, json={"adeli": "2B7654321"}, headers=admin)
        assert (changed.status_code, changed.json()["adeli"]) == (200, "2B7654321"), changed.text
        assert (await client.patch(url, json={"languages": ["fr", "en"]}, headers=admin)).json()["adeli"] == "2B7654321"
        removed = await client.patch(url, json={"adeli": None}, headers=admin)
        assert removed.json()["adeli"] is None
        # His own settings do not carry an identity the national systems name him by.
        himself = auth("effector", ["36"], practitioner_id=made["id"])
        mine = await client.patch("/v1/practitioners/me", json={"adeli": "369999999"}, headers=himself)
        assert mine.status_code == 422, mine.text


class TestTheFacadeMatchesAdeli:
    async def test_slots_schedules_practitioners_and_appointments_by_adeli(self, client, auth) -> None:
        w = await _world(client, auth)
        admin, platform = auth("admin"), auth("platform", [])
        given = await client.patch(f"/v1/practitioners/{w['doctor']['id']}", json={"adeli": "361012345"},
                                   headers=admin)
        assert given.status_code == 200, given.text
        day = w["start"] - dt.timedelta(hours=1)
        window = [f"ge{day.isoformat()}", f"le{(day + dt.timedelta(days=1)).isoformat()}"]
        query = {"schedule.actor:Practitioner.identifier": f"{PS_OID}|0361012345", "status": "free", "start": window,
                 "_include": "Slot:schedule", "_include:iterate": "Schedule:actor"}
        found = await client.get("/fhir/Slot", params=query, headers=platform)
        assert found.status_code == 200, found.text
        bundle = found.json()
        Bundle.model_validate(bundle)
        assert bundle["total"] == 1
        assert [e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == "match"] == [w["slot"]["id"]]
        practitioner = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Practitioner")
        Practitioner.model_validate(practitioner)
        assert [(i["system"], i["value"], i["type"]["coding"][0]["code"]) for i in practitioner["identifier"]] == [
            (PS_OID, "8" + w["doctor"]["rpps"], "IDNPS"), (PS_OID, "0361012345", "IDNPS")]
        # Both of his ids in one search name him once; an ADELI nobody has matches nothing.
        both = {**query, "schedule.actor:Practitioner.identifier":
                f"{PS_OID}|0361012345,{PS_OID}|8{w['doctor']['rpps']},{PS_OID}|0369999999"}
        assert (await client.get("/fhir/Slot", params=both, headers=platform)).json()["total"] == 1
        nobody = {**query, "schedule.actor:Practitioner.identifier": f"{PS_OID}|0369999999"}
        assert (await client.get("/fhir/Slot", params=nobody, headers=platform)).json()["total"] == 0

        schedules = await client.get("/fhir/Schedule", params={"actor:Practitioner.identifier": f"{PS_OID}|0361012345"},
                                     headers=platform)
        assert schedules.status_code == 200 and schedules.json()["total"] == 1, schedules.text
        named = await client.get("/fhir/Practitioner", params={"identifier": f"{PS_OID}|0361012345"}, headers=platform)
        assert [e["resource"]["id"] for e in named.json()["entry"]] == [w["doctor"]["id"]]

        # An agenda declares his appointment by his ADELI: it books his slot.
        body = declared(w["doctor"]["rpps"], w["start"], w["end"], value="by-adeli")
        body["participant"][0]["actor"]["identifier"]["value"] = "0361012345"
        made = await client.post("/fhir/Appointment", json=body, headers={**platform, **FHIR})
        assert made.status_code == 201, made.text
        booking = await client.get(f"/v1/bookings/{made.json()['id']}", headers=auth("regulator", ["36"]))
        assert booking.json()["slot_id"] == w["slot"]["id"]
        unknown = declared(w["doctor"]["rpps"], w["start"], w["end"], value="unknown-adeli")
        unknown["participant"][0]["actor"]["identifier"]["value"] = "0369999999"
        refused = await client.post("/fhir/Appointment", json=unknown, headers={**platform, **FHIR})
        assert refused.status_code == 422 and refused.json()["issue"][0]["expression"] == ["participant"]
