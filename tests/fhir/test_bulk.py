"""SMART Scheduling Links: an aggregator polls the free SNP capacity of its territories as a bulk
publication (manifest, then NDJSON files per département) with ETags; never anonymous, never a slot its
role may not book, never a patient."""

from __future__ import annotations

import datetime as dt
import json

from fhir.resources.R4B.location import Location
from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.slot import Slot

from tests.support.factories import NEW_CALL, create_practitioner, create_site


async def _slot(client, auth, doctor, site, hours: int, **extra) -> dict:
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)).replace(second=0, microsecond=0)
    made = await client.post("/v1/slots", headers=auth("admin", []), json={
        "practitioner_id": doctor["id"], "site_id": site["id"], "start": start.isoformat(),
        "end": (start + dt.timedelta(minutes=20)).isoformat(), "mode": "in_person", **extra})
    assert made.status_code == 201, made.text
    return made.json()


def _lines(response) -> list[dict]:
    assert response.headers["content-type"].startswith("application/fhir+ndjson")
    return [json.loads(line) for line in response.text.splitlines()]


async def test_an_aggregator_polls_the_capacity_of_its_territories(client, auth, app) -> None:
    admin = auth("admin", [])
    doctor = await create_practitioner(client, admin, ["36"])
    site = await create_site(client, admin, "36", phone="0254123456")
    free = await _slot(client, auth, doctor, site, 2)
    taken = await _slot(client, auth, doctor, site, 3)
    veiled = await _slot(client, auth, doctor, site, 4, bookable_by=["urgences"])
    cher = await create_site(client, admin, "18")
    cher_doctor = await create_practitioner(client, admin, ["18"])
    await _slot(client, auth, cher_doctor, cher, 2)
    call = (await client.post("/v1/calls", json=NEW_CALL,
                              headers=auth("regulator", ["36"]))).json()
    assert (await client.post("/v1/bookings", json={"slot_id": taken["id"], "call_id": call["id"]},
                              headers=auth("regulator", ["36"]))).status_code == 201

    platform = auth("platform", [])
    answer = await client.get("/fhir/$bulk-publish", headers=platform)
    assert answer.status_code == 200, answer.text
    manifest = answer.json()
    assert manifest["request"].endswith("/fhir/$bulk-publish") and manifest["error"] == []
    dt.datetime.fromisoformat(manifest["transactionTime"].replace("Z", "+00:00"))
    indre = [o for o in manifest["output"] if o["extension"]["state"] == ["FR-36"]]
    assert sorted(o["type"] for o in indre) == ["Location", "Schedule", "Slot"]
    assert len(manifest["output"]) == 3 * 101  # every département, for the national platform
    etag = answer.headers["etag"]
    assert answer.headers["cache-control"] == "private, max-age=60"
    assert (await client.get("/fhir/$bulk-publish", headers={**platform, "If-None-Match": etag})).status_code == 304

    files = {o["type"]: o["url"].split("/fhir/", 1)[1] for o in indre}
    slot_file = await client.get(f"/fhir/{files['Slot']}", headers=platform)
    assert slot_file.headers["cache-control"] == "private, max-age=60"
    slots = _lines(slot_file)
    for slot in slots:
        Slot.model_validate(slot)
    assert {s["id"]: s["status"] for s in slots} == {free["id"]: "free", taken["id"]: "busy"}  # not the veiled one
    locations = _lines(await client.get(f"/fhir/{files['Location']}", headers=platform))
    assert [float(Location.model_validate(x).position.latitude) for x in locations] == [site["lat"]]
    # What SMART requires of a Location: telecom, identifier, address with its city.
    assert locations[0]["telecom"] == [{"system": "phone", "value": "0254123456"}]
    assert locations[0]["identifier"] == [{"system": "urn:snp:site", "value": site["id"]}]
    assert locations[0]["address"]["city"] == "CHATEAUROUX" and locations[0]["address"]["postalCode"] == "36000"
    cher_locations = _lines(await client.get("/fhir/$bulk-publish/18/locations.ndjson", headers=platform))
    assert [x["telecom"] for x in cher_locations] == [[{"system": "phone", "value": "116117"}]]  # no phone of its own
    schedules = _lines(await client.get(f"/fhir/{files['Schedule']}", headers=platform))
    assert [Schedule.model_validate(x).actor[0].reference for x in schedules] == [f"Location/{site['id']}"]
    assert {s["schedule"]["reference"] for s in slots} == {f"Schedule/{schedules[0]['id']}"}
    text = json.dumps(slots + locations + schedules)
    assert "Durand" not in text and "patient" not in text

    # The ED sees the slot veiled from the regulation; a regulator of the Indre sees the Indre only.
    ed_slots = _lines(await client.get(f"/fhir/{files['Slot']}", headers=auth("urgences", ["36"])))
    assert veiled["id"] in {s["id"] for s in ed_slots}
    mine = (await client.get("/fhir/$bulk-publish", headers=auth("regulator", ["36"]))).json()
    assert {o["extension"]["state"][0] for o in mine["output"]} == {"FR-36"}
    assert (await client.get("/fhir/$bulk-publish/18/slots.ndjson", headers=auth("regulator", ["36"]))
            ).status_code == 404
    assert (await client.get("/fhir/$bulk-publish")).status_code == 401
    assert (await client.get("/fhir/$bulk-publish", headers=auth("referrer", ["36"], referrer_kind="nurse"))
            ).status_code == 403

    # A new slot: once the publication is rebuilt, the manifest's and the file's ETags change.
    app.state.settings = app.state.settings.model_copy(update={"bulk_publish_seconds": 0})
    file_etag = (await client.get(f"/fhir/{files['Slot']}", headers=platform)).headers["etag"]
    await _slot(client, auth, doctor, site, 5)
    changed = await client.get("/fhir/$bulk-publish", headers={**platform, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    again = await client.get(f"/fhir/{files['Slot']}", headers={**platform, "If-None-Match": file_etag})
    assert again.status_code == 200 and len(_lines(again)) == 3
