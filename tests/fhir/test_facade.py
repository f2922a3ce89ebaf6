"""The FHIR facade as the national SAS platform uses it: the guide's search of a CPTS's free slots,
through a real FHIR client (fhirpy) against a served app; every resource validated by the R4B models
of fhir.resources and held to the guide's own examples (tests/fhir/guide) element by element."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole
from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.slot import Slot
from fhirpy import AsyncFHIRClient

from app.auth.tokens import create_token
from app.platform.config import Settings
from tests.support.database import TEST_SECRET
from tests.support.factories import NEW_CALL, new_rpps
from tests.support.serving import sharing

GUIDE = Path(__file__).parent / "guide"
PS_OID = "urn:oid:1.2.250.1.71.4.2.1"
FINESS = "360000012"


def example(name: str) -> dict:
    return json.loads((GUIDE / f"{name}.json").read_text(encoding="utf-8"))


def _headers(role: str, territories=("36",), **kw) -> dict[str, str]:
    token = create_token(Settings(jwt_secret=TEST_SECRET), role=role, territories=list(territories), **kw)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def world(database_url: str, shared_base: str) -> Iterator[dict]:
    with sharing(shared_base, database_url) as base:
        admin = _headers("admin", ())
        with httpx.Client(base_url=base, headers=admin) as c:
            cpts = c.post("/v1/territories", json={"code": "36-chateauroux", "name": "CPTS Châteauroux Agglo",
                                                   "kind": "cpts", "parent_code": "36", "finess": FINESS})
            assert cpts.status_code == 201, cpts.text
            rpps = new_rpps()
            doctor = c.post("/v1/practitioners", json={"rpps": rpps, "family_name": "Foret", "given_name": "Pierre",
                                                       "territory_codes": ["36"]}).json()
            site = c.post("/v1/sites", json={"name": "MSP Saint-Jean", "kind": "msp", "address": "2 rue de la Gare",
                                             "postcode": "36000", "lat": 46.81, "lon": 1.69,
                                             "territory_code": "36-chateauroux"}).json()
            now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
            slots = []
            for hours, mode in ((2, "in_person"), (3, "home_visit"), (4, "teleconsultation"), (80, "in_person")):
                start = now + dt.timedelta(hours=hours)
                created = c.post("/v1/slots", json={"practitioner_id": doctor["id"], "site_id": site["id"],
                                                    "start": start.isoformat(), "mode": mode,
                                                    "end": (start + dt.timedelta(minutes=20)).isoformat()})
                assert created.status_code == 201, created.text
                slots.append(created.json())
            call = c.post("/v1/calls", json=NEW_CALL).json()
            booked = c.post("/v1/bookings", json={"slot_id": slots[2]["id"], "call_id": call["id"]})
            assert booked.status_code == 201, booked.text
        yield {"base": base, "rpps": rpps, "doctor": doctor, "site": site, "slots": slots, "now": now}


def _window(world) -> tuple[str, str]:
    now = world["now"]
    return (now.isoformat(), (now + dt.timedelta(hours=24)).isoformat())


async def _search(world, **extra) -> dict:
    """The guide's request, sent by a FHIR client."""
    ge, le = _window(world)
    client = AsyncFHIRClient(f"{world['base']}/fhir", authorization=_headers("platform", ())["Authorization"])
    search = (client.resources("Slot")
              .search(start=[f"ge{ge}", f"le{le}"], status="free",
                      **{"schedule.actor:Practitioner.identifier": f"{PS_OID}|8{world['rpps']},{PS_OID}|810002909371"},
                      **extra)
              .include("Slot", "schedule").include("Schedule", "actor", iterate=True)
              .include("Slot", "service-type-reference").include("HealthcareService", "organization", iterate=True))
    return plain(await search.fetch_raw())


def plain(value):
    """fhirpy's objects (resources, references) as the JSON they were read from."""
    if hasattr(value, "serialize"):
        return plain(value.serialize())
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _by_type(bundle: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for entry in bundle["entry"]:
        out.setdefault(entry["resource"]["resourceType"], []).append(entry)
    return out


def test_the_national_platforms_search_answers_the_guides_bundle(world) -> None:
    raw = asyncio.run(_search(world))
    Bundle.model_validate(raw)  # R4B
    assert raw["type"] == "searchset" and raw["total"] == 2  # the booked and the later slots are not free here
    assert raw["meta"]["profile"] == example("Bundle-ExampleBundleCPTS1")["meta"]["profile"]
    entries = _by_type(raw)
    assert [e["search"]["mode"] for e in entries["Slot"]] == ["match", "match"]
    assert {t: len(v) for t, v in entries.items()} == {"Slot": 2, "Schedule": 1, "Practitioner": 1,
                                                         "PractitionerRole": 1, "HealthcareService": 1,
                                                         "Organization": 1}
    assert all(e["search"]["mode"] == "include" for t, v in entries.items() if t != "Slot" for e in v)

    guide_slot, slot = example("Slot-ExampleSlotCPTS1"), entries["Slot"][0]["resource"]
    Slot.model_validate(slot)
    assert slot["meta"]["profile"] == guide_slot["meta"]["profile"]
    assert {s["system"] for s in slot["meta"]["security"]} == {guide_slot["meta"]["security"][0]["system"]}
    assert [s["code"] for s in slot["meta"]["security"]] == ["SNP", "PRO", "CPTS"]
    assert slot["serviceType"][0]["coding"][0]["system"] == guide_slot["serviceType"][0]["coding"][0]["system"]
    assert slot["serviceType"][0]["coding"][0]["code"] == "AMB"
    assert entries["Slot"][1]["resource"]["serviceType"][0]["coding"][0]["code"] == "HH"  # a home visit
    cpts, guide_cpts = slot["serviceType"][1], guide_slot["serviceType"][1]
    assert cpts["coding"] == guide_cpts["coding"]  # TRE-R66 604
    assert cpts["extension"][0]["url"] == guide_cpts["extension"][0]["url"]
    assert cpts["extension"][0]["valueReference"] == {"reference": "HealthcareService/36-chateauroux"}
    assert slot["specialty"] == guide_slot["specialty"]  # SM54, TRE-R38
    assert slot["appointmentType"] == guide_slot["appointmentType"]  # ROUTINE
    assert slot["status"] == "free" and slot["id"] == world["slots"][0]["id"]

    guide_practitioner = example("Practitioner-ExamplePractitioner")
    practitioner = entries["Practitioner"][0]["resource"]
    Practitioner.model_validate(practitioner)
    assert practitioner["meta"] == guide_practitioner["meta"]
    identifier = practitioner["identifier"][0]
    assert identifier["type"] == guide_practitioner["identifier"][0]["type"]
    assert identifier["system"] == guide_practitioner["identifier"][0]["system"]
    assert identifier["value"] == "8" + world["rpps"]

    role = entries["PractitionerRole"][0]["resource"]
    PractitionerRole.model_validate(role)
    guide_role = example("PractitionerRole-ExamplePractitionerRoleAgregateur")
    assert role["meta"] == guide_role["meta"]
    location = role["contained"][0]
    assert location["meta"] == guide_role["contained"][0]["meta"]
    assert location["identifier"][0]["type"] == guide_role["contained"][0]["identifier"][0]["type"]
    assert location["address"] == {"line": ["2 rue de la Gare"], "postalCode": "36000", "city": "CHATEAUROUX"}
    assert role["location"] == [{"reference": f"#{location['id']}"}]

    schedule = entries["Schedule"][0]["resource"]
    Schedule.model_validate(schedule)
    assert schedule["meta"] == example("Schedule-ExampleSchedule")["meta"]
    assert schedule["actor"] == [{"reference": f"Practitioner/{world['doctor']['id']}"},
                                 {"reference": f"PractitionerRole/{role['id']}"}]
    assert slot["schedule"] == {"reference": f"Schedule/{schedule['id']}"}

    service, guide_service = entries["HealthcareService"][0]["resource"], example(
        "HealthcareService-ExampleHealthcareServiceCPTS1")
    assert service["meta"] == guide_service["meta"]
    assert service["providedBy"] == {"reference": "Organization/36-chateauroux"}
    organization, guide_organization = entries["Organization"][0]["resource"], example("Organization-ExampleOrgaCPTS1")
    assert organization["meta"] == guide_organization["meta"]
    assert organization["identifier"][0]["type"] == guide_organization["identifier"][0]["type"]
    assert organization["identifier"][0]["system"] == guide_organization["identifier"][0]["system"]
    assert organization["identifier"][0]["value"] == "1" + FINESS  # the guide's FINESS-invariant: ^1[0-9]{9}$
    assert organization["name"] == "CPTS Châteauroux Agglo"


def test_one_answer_holds_every_match_or_is_refused(world) -> None:
    """The guide's Bundle has one link (self): a search is never paged, and one matching more than
    ``_count`` is refused, saying so."""
    everything = asyncio.run(_search(world))
    assert [link["relation"] for link in everything["link"]] == ["self"]
    ge, le = _window(world)
    refused = httpx.get(world["base"] + "/fhir/Slot", headers=_headers("platform", ()), params={
        "schedule.actor:Practitioner.identifier": f"{PS_OID}|8{world['rpps']}", "status": "free",
        "start": [f"ge{ge}", f"le{le}"], "_count": 1})
    assert refused.status_code == 400
    issue = OperationOutcome.model_validate(refused.json()).issue[0]
    assert "2 free slots match" in issue.diagnostics and issue.expression == ["_count"]


def test_reads_and_the_capability_statement(world) -> None:
    base, platform = world["base"] + "/fhir", _headers("platform", ())
    slot = httpx.get(f"{base}/Slot/{world['slots'][0]['id']}", headers=platform)
    assert slot.status_code == 200 and slot.headers["content-type"].startswith("application/fhir+json")
    schedule_ref = slot.json()["schedule"]["reference"]
    schedule = httpx.get(f"{base}/{schedule_ref}", headers=platform).json()
    Schedule.model_validate(schedule)
    role = httpx.get(f"{base}/{schedule['actor'][1]['reference']}", headers=platform).json()
    PractitionerRole.model_validate(role)
    found = httpx.get(f"{base}/Practitioner", params={"identifier": f"{PS_OID}|8{world['rpps']}"},
                      headers=platform).json()
    assert [e["resource"]["id"] for e in found["entry"]] == [world["doctor"]["id"]]
    Practitioner.model_validate(httpx.get(f"{base}/Practitioner/{world['doctor']['id']}", headers=platform).json())
    booked = httpx.get(f"{base}/Slot/{world['slots'][2]['id']}", headers=platform)
    assert booked.status_code == 404
    OperationOutcome.model_validate(booked.json())
    statement = httpx.get(f"{base}/metadata").json()
    CapabilityStatement.model_validate(statement)
    assert statement["instantiates"] == [
        "https://interop.esante.gouv.fr/ig/fhir/sas/CapabilityStatement/SAS-GestionnaireAgenda-CPTS",
        "https://interop.esante.gouv.fr/ig/fhir/sas/CapabilityStatement/SAS-GestionnaireAgenda-RDVpsindiv",
        "https://interop.esante.gouv.fr/ig/fhir/sas/CapabilityStatement/SAS-GestionnaireStructure"]


@pytest.mark.parametrize(("params", "headers", "status", "code"), [
    ({"status": "free"}, "platform", 400, "invalid"),  # no practitioner
    ({"schedule.actor:Practitioner.identifier": ",".join(f"{PS_OID}|8{n:011d}" for n in range(26)),
      "status": "free"}, "platform", 400, "invalid"),
    ({"schedule.actor:Practitioner.identifier": f"{PS_OID}|810002909371"}, "platform", 400, "invalid"),  # no status
    ({"schedule.actor:Practitioner.identifier": f"{PS_OID}|810002909371", "status": "free", "start": "ge2026-13-45"},
     "platform", 400, "invalid"),
    ({"schedule.actor:Practitioner.identifier": f"{PS_OID}|810002909371", "status": "free", "_include": "Slot:x"},
     "platform", 400, "invalid"),
    ({"schedule.actor:Practitioner.identifier": f"{PS_OID}|810002909371", "status": "free",
      "start": "ge0001-01-01T00:00:00+01:00"}, "platform", 400, "invalid"),  # out of our years: no overflow
    ({"status": "free"}, None, 401, "login"),
    ({"status": "free"}, "analyst", 403, "forbidden"),
])
def test_errors_are_operation_outcomes(world, params, headers, status, code) -> None:
    response = httpx.get(world["base"] + "/fhir/Slot", params=params,
                         headers=_headers(headers) if headers else None)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    outcome = OperationOutcome.model_validate(response.json())
    assert outcome.issue[0].code == code


def test_a_day_given_without_time_is_the_whole_day(world) -> None:
    day = (world["now"] + dt.timedelta(hours=2)).date()
    params = {"schedule.actor:Practitioner.identifier": f"{PS_OID}|8{world['rpps']}", "status": "free",
              "start": [f"ge{day.isoformat()}", f"le{(world['now'] + dt.timedelta(hours=3)).date().isoformat()}"]}
    bundle = httpx.get(world["base"] + "/fhir/Slot", params=params, headers=_headers("platform", ())).json()
    assert bundle["total"] == 2, bundle  # the two free slots of the next hours, whatever their hour


def test_an_agenda_declares_its_appointment_with_a_fhir_client(world) -> None:
    """The doctor's agenda software, with his effector token, declares the appointment it made on a slot
    it published here (create), then that the patient cancelled (conditional update)."""
    from fhir.resources.R4B.appointment import Appointment

    slot = world["slots"][3]
    body = example("Appointment-1")
    body.pop("id")
    body["identifier"][0]["value"] = "agenda-rdv-42"
    body["participant"][0]["actor"]["identifier"]["value"] = "8" + world["rpps"]
    body.update(start=slot["start"], end=slot["end"])
    agenda = _headers("effector", practitioner_id=world["doctor"]["id"])["Authorization"]

    async def declare() -> tuple[dict, dict]:
        client = AsyncFHIRClient(f"{world['base']}/fhir", authorization=agenda)
        made = client.resource("Appointment", **body)
        await made.save()
        cancelled = client.resource("Appointment", **{**body, "status": "cancelled"})
        updated, created = await client.resources("Appointment").search(
            identifier=f"{body['identifier'][0]['system']}|agenda-rdv-42").update(cancelled)
        assert created is False
        return plain(made), plain(updated)

    made, updated = asyncio.run(declare())
    assert Appointment.model_validate(made).status == "booked"
    assert (updated["id"], updated["status"]) == (made["id"], "cancelled")
    booking = httpx.get(f"{world['base']}/v1/bookings/{made['id']}", headers=_headers("regulator")).json()
    assert (booking["slot_id"], booking["status"]) == (slot["id"], "cancelled")


def test_every_included_resource_resolves_at_its_full_url(world) -> None:
    """The guide's Bundle gives each entry a fullUrl: a client that follows it reads the same resource,
    the CPTS's HealthcareService and Organization included."""
    bundle = asyncio.run(_search(world))
    platform = _headers("platform", ())
    kinds = set()
    for entry in bundle["entry"]:
        path = entry["fullUrl"].split("/fhir/", 1)[1]
        found = httpx.get(f"{world['base']}/fhir/{path}", headers=platform)
        assert found.status_code == 200, (path, found.text)
        assert found.json() == entry["resource"], path
        kinds.add(entry["resource"]["resourceType"])
    assert {"HealthcareService", "Organization"} <= kinds
    guide_service = example("HealthcareService-ExampleHealthcareServiceCPTS1")
    service = httpx.get(f"{world['base']}/fhir/HealthcareService/36-chateauroux", headers=platform).json()
    assert service["meta"] == guide_service["meta"]
    # Another territory's regulator, an unknown code, a territory that is no CPTS: not found.
    for path, role, territories in (("HealthcareService/36-chateauroux", "regulator", ("18",)),
                                    ("Organization/36-chateauroux", "regulator", ("18",)),
                                    ("Organization/36-nowhere", "platform", ()), ("Organization/36", "platform", ())):
        missing = httpx.get(f"{world['base']}/fhir/{path}", headers=_headers(role, territories))
        assert missing.status_code == 404, path
        OperationOutcome.model_validate(missing.json())
