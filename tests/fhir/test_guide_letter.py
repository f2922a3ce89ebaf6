"""The guide's requests to the letter (ans.fhir.fr.sas 1.2.0, the CPTS slot search page and the
CapabilityStatement SAS-GestionnaireAgenda-CPTS): sent as the guide writes them, through the HTTP
interface, against the real database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fhir.resources.R4B.bundle import Bundle

from tests.slots.helpers import doctor, slot

INTEROP = Path(__file__).parents[2] / "docs" / "interop.md"
PS_OID = "urn:oid:1.2.250.1.71.4.2.1"
INCLUDES = ("_include=Slot:schedule&_include:iterate=Schedule:actor&_include=Slot:service-type-reference"
            "&_include:iterate=HealthcareService:organization")


def printed_request() -> tuple[str, str, dict[str, str]]:
    """The request docs/interop.md prints: its method, its target and its headers, as printed."""
    text = INTEROP.read_text(encoding="utf-8")
    block = text.split("sends this block exactly as printed:\n\n```\n", 1)[1].split("\n```", 1)[0]
    request_line, *header_lines = block.splitlines()
    method, target = request_line.split(" ", 1)
    return method, target, dict(line.split(": ", 1) for line in header_lines)


def identifiers(*rpps: str) -> str:
    return ",".join(f"{PS_OID}|8{number}" for number in rpps)


class TestTheOffsetsPlus:
    async def test_the_docs_example_is_answered_as_printed(self, client, auth) -> None:
        method, target, headers = printed_request()
        assert "+01:00" in target  # the literal plus the guide writes, not %2B
        headers["Authorization"] = headers["Authorization"].replace("<token of role platform>",
                                                                    auth("platform", [])["Authorization"][7:])
        response = await client.request(method, target, headers=headers)
        assert response.status_code == 200, response.text
        bundle = response.json()
        Bundle.model_validate(bundle)
        assert (bundle["type"], bundle["total"]) == ("searchset", 0)  # the guide's practitioners are not ours

    async def test_a_plus_decoded_as_a_space_is_the_offsets_sign(self, client, auth) -> None:
        doc = await doctor(client, auth)
        start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
        made = await client.post("/v1/slots", json=slot(doc.site_id, start), headers=doc.headers)
        assert made.status_code == 201, made.text
        rpps = (await client.get(f"/v1/practitioners/{doc.id}", headers=auth("admin"))).json()["rpps"]
        day = start.date().isoformat()
        # 10:30+01:00 to 11:30+01:00 is 09:30 to 10:30 UTC: the slot at 10:00 UTC is in it only if the
        # space is read as +01:00 (as -01:00, or without an offset, the window misses it).
        target = (f"/fhir/Slot?{INCLUDES}&start=ge{day}T10:30:00.000+01:00&start=le{day}T11:30:00.000+01:00"
                  f"&schedule.actor:Practitioner.identifier={identifiers(rpps)}&status=free")
        response = await client.get(target, headers=auth("platform", []))
        assert response.status_code == 200, response.text
        bundle = response.json()
        assert bundle["total"] == 1
        assert [e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == "match"] == [made.json()["id"]]
