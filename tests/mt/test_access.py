"""Access consultations: a slot of kind access, published as any slot, that the coordinator books for a patient
without a médecin traitant — and that is in none of the SNP ways: not in the SNP search, not holdable nor bookable
for a call, not in the FHIR facade nor its bulk files, not in the participation hours nor the report's published
hours."""

from __future__ import annotations

import datetime as dt
import json

from tests.bookings.helpers import make_call, world
from tests.mt.helpers import request

PS_OID = "urn:oid:1.2.250.1.71.4.2.1"


async def _slot(client, auth, w, start: dt.datetime, kind: str) -> dict:
    body = {"practitioner_id": w.practitioner_id, "site_id": w.site["id"], "start": start.isoformat(),
            "end": (start + dt.timedelta(minutes=60)).isoformat(), "mode": "in_person", "kind": kind}
    made = await client.post("/v1/slots", json=body, headers=auth("admin", []))
    assert made.status_code == 201, made.text
    return made.json()


async def _both(client, auth):
    w = await world(client, auth)
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=2)
    snp = await _slot(client, auth, w, start, "snp")
    access = await _slot(client, auth, w, start + dt.timedelta(hours=2), "access")
    return w, snp, access, start


class TestAnAccessSlotIsNoSnpSlot:
    async def test_it_is_in_no_search_no_booking_no_facade_and_no_file(self, client, auth):
        w, snp, access, start = await _both(client, auth)
        assert (access["kind"], snp["kind"]) == ("access", "snp")
        found = (await client.get("/v1/slots/search", params={"territory": "36"}, headers=auth("regulator"))).json()
        assert [i["id"] for i in found["items"]] == [snp["id"]]
        call = await make_call(client, auth)
        held = await client.post(f"/v1/slots/{access['id']}/hold", json={"call_id": call["id"]},
                                 headers=auth("regulator"))
        booked = await client.post("/v1/bookings", json={"slot_id": access["id"], "call_id": call["id"]},
                                   headers=auth("regulator"))
        assert held.status_code >= 400 and booked.status_code >= 400, (held.text, booked.text)
        platform = auth("platform", [])
        window = [f"ge{(start - dt.timedelta(hours=1)).isoformat()}", f"le{(start + dt.timedelta(days=1)).isoformat()}"]
        facade = await client.get("/fhir/Slot", headers=platform, params={
            "schedule.actor:Practitioner.identifier": f"{PS_OID}|8{w.practitioner['rpps']}", "status": "free",
            "start": window})
        assert facade.status_code == 200, facade.text
        assert [e["resource"]["id"] for e in facade.json().get("entry", [])
                if e["resource"]["resourceType"] == "Slot"] == [snp["id"]]
        assert (await client.get(f"/fhir/Slot/{access['id']}", headers=platform)).status_code == 404
        manifest = (await client.get("/fhir/$bulk-publish", headers=platform)).json()
        url = next(o["url"] for o in manifest["output"] if o["type"] == "Slot" and o["extension"]["state"] == ["FR-36"])
        lines = (await client.get(url[url.index("/fhir/"):], headers=platform)).text
        ids = [json.loads(line)["id"] for line in lines.splitlines() if line.strip()]
        assert snp["id"] in ids and access["id"] not in ids

    async def test_it_never_counts_in_the_participation_hours_nor_the_reports_hours(self, client, auth):
        w, snp, access, start = await _both(client, auth)
        day = start.date().isoformat()
        evidence = (await client.get(f"/v1/practitioners/{w.practitioner_id}/participation",
                                     params={"from": day, "to": day}, headers=auth("admin"))).json()
        assert (evidence["total"]["slots_offered"], float(evidence["total"]["hours_offered"])) == (1, 1.0)
        month = start.strftime("%Y-%m")
        report = await client.get("/v1/stats/monthly", params={"territory": "36", "from": month, "to": month},
                                  headers=auth("admin"))
        assert report.status_code == 200, report.text
        slots = report.json()["total"]["slots"]
        assert (slots["published"], slots["published_hours"]) == (1, 1.0)


class TestTheCoordinatorBooksOne:
    async def test_listed_booked_for_a_request_once(self, client, auth):
        _, snp, access, _ = await _both(client, auth)
        coordinator = auth("coordinator")
        listed = await client.get("/v1/access-slots", params={"territory": "36"}, headers=coordinator)
        assert listed.status_code == 200, listed.text
        assert [s["id"] for s in listed.json()] == [access["id"]]
        patient = await request(client, coordinator, publics=["disability"])
        other = await request(client, coordinator)
        not_access = await client.post(f"/v1/mt-requests/{patient['id']}/access", json={"slot_id": snp["id"]},
                                       headers=coordinator)
        assert (not_access.status_code, not_access.json()["field"]) == (422, "slot_id")
        booked = await client.post(f"/v1/mt-requests/{patient['id']}/access", json={"slot_id": access["id"]},
                                   headers=coordinator)
        assert booked.status_code == 200, booked.text
        assert booked.json()["access_slot_id"] == access["id"] and booked.json()["access_booked_at"]
        assert booked.json()["state"] == "waiting"
        slot = (await client.get(f"/v1/slots/{access['id']}", headers=auth("admin", []))).json()
        assert slot["state"] == "booked"
        again = await client.post(f"/v1/mt-requests/{patient['id']}/access", json={"slot_id": access["id"]},
                                  headers=coordinator)
        taken = await client.post(f"/v1/mt-requests/{other['id']}/access", json={"slot_id": access["id"]},
                                  headers=coordinator)
        assert (again.status_code, taken.status_code, taken.json()["error"]) == (409, 409, "SlotTaken")
        assert (await client.get("/v1/access-slots", params={"territory": "36"}, headers=coordinator)).json() == []
        foreign = await client.get("/v1/access-slots", params={"territory": "36"}, headers=auth("coordinator", ["18"]))
        assert foreign.status_code == 404
