"""Every absolute URL of the FHIR facade starts at SNP_PUBLIC_URL, whatever Host the client sends: a link a
client could point elsewhere is a link the national platform would follow elsewhere."""

from __future__ import annotations

import datetime as dt

import pytest

from app.platform.config import DEV_PUBLIC_URL
from tests.fhir.helpers import FHIR, _world, declared

PUBLIC = "https://snp.example.test/sas"
FORGED = {"Host": "attacker.example", "X-Forwarded-Host": "attacker.example", "X-Forwarded-Proto": "http"}


def _urls(bundle: dict) -> list[str]:
    return [link["url"] for link in bundle["link"]] + [entry["fullUrl"] for entry in bundle["entry"]]


@pytest.mark.parametrize("public_url", [PUBLIC, None], ids=["set", "unset"])
async def test_links_name_the_public_address_never_the_host_header(app, client, auth, public_url) -> None:
    app.state.settings = app.state.settings.model_copy(update={"public_url": public_url})
    base = public_url or DEV_PUBLIC_URL
    w = await _world(client, auth)
    for minutes in (15, 30):  # three slots
        start = w["start"] + dt.timedelta(minutes=minutes)
        made = await client.post("/v1/slots", headers=w["effector"], json={
            "practitioner_id": w["doctor"]["id"], "site_id": w["site"]["id"], "start": start.isoformat(),
            "end": (start + dt.timedelta(minutes=15)).isoformat(), "mode": "in_person"})
        assert made.status_code == 201, made.text
    platform = {**auth("platform", []), **FORGED}

    search = await client.get("/fhir/Slot", headers=platform, params={
        "schedule.actor:Practitioner.identifier": f"urn:oid:1.2.250.1.71.4.2.1|8{w['doctor']['rpps']}",
        "status": "free", "_include": "Slot:schedule"})
    assert search.status_code == 200, search.text
    urls = _urls(search.json())
    assert len(urls) >= 4 and all(u.startswith(f"{base}/fhir/") for u in urls), urls
    assert "_include=Slot%3Aschedule" in urls[0] or "_include=Slot:schedule" in urls[0]  # self keeps its query

    practitioners = await client.get("/fhir/Practitioner", headers=platform,
                                     params={"identifier": f"urn:oid:1.2.250.1.71.4.2.1|8{w['doctor']['rpps']}"})
    assert all(u.startswith(f"{base}/fhir/") for u in _urls(practitioners.json()))

    metadata = await client.get("/fhir/metadata", headers=FORGED)
    assert metadata.json()["implementation"]["url"] == f"{base}/fhir"

    manifest = (await client.get("/fhir/$bulk-publish", headers=platform)).json()
    assert manifest["request"] == f"{base}/fhir/$bulk-publish"
    assert all(o["url"].startswith(f"{base}/fhir/$bulk-publish/") for o in manifest["output"])

    body = declared(w["doctor"]["rpps"], w["start"], w["end"])
    made = await client.post("/fhir/Appointment", json=body, headers={**platform, **FHIR})
    assert made.status_code == 201, made.text
    assert made.headers["location"] == f"{base}/fhir/Appointment/{made.json()['id']}"
    assert "attacker" not in search.text + practitioners.text + metadata.text + str(manifest) + made.text
