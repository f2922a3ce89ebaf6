"""The guide's requests to the letter (ans.fhir.fr.sas 1.2.0, the CPTS slot search page and the
CapabilityStatement SAS-GestionnaireAgenda-CPTS): sent as the guide writes them, through the HTTP
interface, against the real database."""

from __future__ import annotations

import copy
import datetime as dt
import json
import time
import uuid
from pathlib import Path

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.schedule import Schedule
from sqlalchemy import text

from tests.fhir.helpers import FHIR, _world, declared
from tests.slots.helpers import doctor, slot
from tests.support.factories import create_practitioner
from tests.support.instances import client_of, instance

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
        assert "entry" not in bundle  # FHIR's JSON has no empty arrays: no match, no entry

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


class TestOneAnswerHoldsEverySlot:
    async def test_25_practitioners_over_3_days_of_15_minute_slots_in_one_answer(self, client, auth) -> None:
        admin = auth("admin")
        doctors = [await doctor(client, auth) for _ in range(25)]
        first = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
        items = [slot(d.site_id, first + dt.timedelta(days=day, minutes=15 * n), minutes=15, practitioner_id=d.id)
                 for d in doctors for day in range(3) for n in range(48)]  # 08:00 to 20:00
        made = await client.post("/v1/slots/bulk", json={"slots": items}, headers=admin)
        assert made.status_code == 201, made.text
        rpps = [(await client.get(f"/v1/practitioners/{d.id}", headers=admin)).json()["rpps"] for d in doctors]
        window = [f"ge{(first - dt.timedelta(hours=1)).isoformat()}", f"le{(first + dt.timedelta(days=3)).isoformat()}"]
        query = {"schedule.actor:Practitioner.identifier": identifiers(*rpps), "status": "free", "start": window,
                 "_include": ["Slot:schedule", "Slot:service-type-reference"],
                 "_include:iterate": ["Schedule:actor", "HealthcareService:organization"], "_count": "1000"}
        platform = auth("platform", [])

        began = time.perf_counter()
        response = await client.get("/fhir/Slot", params={**query, "_count": "5000"}, headers=platform)
        elapsed = time.perf_counter() - began
        assert response.status_code == 200, response.text
        bundle = response.json()
        assert bundle["total"] == 3600 == len(items)
        assert [link["relation"] for link in bundle["link"]] == ["self"]  # the profile's one link: never a page
        kinds: dict[str, int] = {}
        for entry in bundle["entry"]:
            kinds[entry["resource"]["resourceType"]] = kinds.get(entry["resource"]["resourceType"], 0) + 1
        assert kinds == {"Slot": 3600, "Schedule": 25, "Practitioner": 25, "PractitionerRole": 25}
        assert elapsed < 8.0, f"{elapsed:.2f} s for 3600 slots"

        # The guide's _count=1000 over 3600 matches: refused, saying so, never cut.
        refused = await client.get("/fhir/Slot", params=query, headers=platform)
        assert refused.status_code == 400
        issue = OperationOutcome.model_validate(refused.json()).issue[0]
        assert "3600 free slots match" in issue.diagnostics and issue.expression == ["_count"]
        beyond = await client.get("/fhir/Slot", params={**query, "_count": "5001"}, headers=platform)
        assert beyond.status_code == 400 and beyond.json()["resourceType"] == "OperationOutcome"


async def test_the_platforms_search_has_its_own_budget(settings, engine, auth) -> None:
    application = instance(settings, engine, search=100, fhir_search=3)
    platform = auth("platform", [])
    query = {"schedule.actor:Practitioner.identifier": identifiers("10002909371"), "status": "free"}
    async with client_of(application) as c:
        statuses = [(await c.get("/fhir/Slot", params=query, headers=platform)).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = await c.get("/fhir/Slot", params=query, headers=platform)
        assert OperationOutcome.model_validate(refused.json()).issue[0].code == "throttled"
        # The console's search budget is another one.
        assert (await c.get("/v1/slots/search", params={"territory": "36"}, headers=platform)).status_code != 429


class TestTheGuidesMediaType:
    """Every request of the guide's pages sends ``Accept: application/json+fhir``; its CapabilityStatements
    name ``application/fhir+json``: both are taken, as a body and as what is accepted."""

    async def test_a_declaration_sent_and_accepted_as_application_json_fhir(self, client, auth) -> None:
        w = await _world(client, auth)
        platform = auth("platform", [])
        guide = {"Content-Type": "application/json+fhir; charset=utf-8", "Accept": "application/json+fhir"}
        body = declared(w["doctor"]["rpps"], w["start"], w["end"], value="json-plus-fhir")
        made = await client.post("/fhir/Appointment", content=json.dumps(body), headers={**platform, **guide})
        assert made.status_code == 201, made.text
        assert made.headers["content-type"].startswith("application/fhir+json")
        query = {"identifier": f"{body['identifier'][0]['system']}|json-plus-fhir"}
        done = await client.put("/fhir/Appointment", params=query, content=json.dumps({**body, "status": "cancelled"}),
                                headers={**platform, **guide})
        assert (done.status_code, done.json()["status"]) == (200, "cancelled"), done.text
        found = await client.get("/fhir/Slot", headers={**platform, "Accept": "application/json+fhir"}, params={
            "schedule.actor:Practitioner.identifier": identifiers(w["doctor"]["rpps"]), "status": "free"})
        assert found.status_code == 200 and found.json()["total"] == 1  # the slot, free again
        read = await client.get(f"/fhir/Appointment/{made.json()['id']}",
                                headers={**platform, "Accept": "application/json+fhir"})
        assert read.status_code == 200 and read.json()["status"] == "cancelled"


class TestSchedulesByActor:
    """The CapabilityStatement SAS-GestionnaireAgenda-CPTS: Schedule search-type by actor (Schedule-actor)."""

    async def test_a_practitioners_schedules_by_reference_or_national_identifier(self, client, auth) -> None:
        doc = await doctor(client, auth)
        start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
        assert (await client.post("/v1/slots", json=slot(doc.site_id, start), headers=doc.headers)).status_code == 201
        rpps = (await client.get(f"/v1/practitioners/{doc.id}", headers=auth("admin"))).json()["rpps"]
        platform = auth("platform", [])
        role = uuid.UUID(doc.id).hex + uuid.UUID(doc.site_id).hex
        for query in ({"actor": f"Practitioner/{doc.id}"}, {"actor": doc.id},
                      {"actor": f"https://snp.example/fhir/Practitioner/{doc.id}"},
                      {"actor": f"PractitionerRole/{role}"},
                      {"actor:Practitioner.identifier": f"{PS_OID}|8{rpps}"}):
            response = await client.get("/fhir/Schedule", params=query, headers=platform)
            assert response.status_code == 200, (query, response.text)
            bundle = response.json()
            Bundle.model_validate(bundle)
            assert bundle["total"] == 1, query
            schedule = bundle["entry"][0]["resource"]
            Schedule.model_validate(schedule)
            assert schedule["id"] == role
            assert bundle["entry"][0]["fullUrl"].endswith(f"/fhir/Schedule/{role}")
            assert schedule["actor"][0] == {"reference": f"Practitioner/{doc.id}"}
        nobody = await client.get("/fhir/Schedule", params={"actor": f"Practitioner/{uuid.uuid4()}"}, headers=platform)
        assert nobody.status_code == 200 and nobody.json()["total"] == 0 and "entry" not in nobody.json()
        # The Cher's regulator does not see the Indre's doctor.
        cher = await client.get("/fhir/Schedule", params={"actor": f"Practitioner/{doc.id}"},
                                headers=auth("regulator", ["18"]))
        assert cher.json()["total"] == 0

    async def test_one_actor_parameter_is_required(self, client, auth) -> None:
        platform = auth("platform", [])
        for query in ({}, {"actor": f"Practitioner/{uuid.uuid4()}", "actor:Practitioner.identifier": "810002909371"}):
            refused = await client.get("/fhir/Schedule", params=query, headers=platform)
            assert refused.status_code == 400, query
            assert OperationOutcome.model_validate(refused.json()).issue[0].expression == ["actor"]


async def test_the_cpts_security_code_only_on_a_slot_of_a_cpts(client, auth) -> None:
    """TRE-R314 `CPTS`: "accessible par une structure de type CPTS" — a slot of a département, open to
    every booker, is SNP and PRO only (tests/fhir/test_facade.py holds a CPTS's slot with its CPTS code)."""
    doc = await doctor(client, auth)
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(hour=11, minute=0, second=0, microsecond=0)
    made = await client.post("/v1/slots", json=slot(doc.site_id, start), headers=doc.headers)
    assert made.status_code == 201, made.text
    read = (await client.get(f"/fhir/Slot/{made.json()['id']}", headers=auth("platform", []))).json()
    assert [s["code"] for s in read["meta"]["security"]] == ["SNP", "PRO"]


class TestUpdateById:
    """Our CapabilityStatement declares Appointment `update`: PUT /fhir/Appointment/{id}, FHIR's update."""

    async def test_a_declared_appointment_is_cancelled_by_its_id(self, client, auth) -> None:
        w = await _world(client, auth)
        platform = auth("platform", [])
        body = declared(w["doctor"]["rpps"], w["start"], w["end"], value="by-id")
        made = await client.post("/fhir/Appointment", json=body, headers={**platform, **FHIR})
        assert made.status_code == 201, made.text
        appointment_id = made.json()["id"]
        url = f"/fhir/Appointment/{appointment_id}"

        for wrong in ({**body, "status": "cancelled"}, {**body, "status": "cancelled", "id": str(uuid.uuid4())}):
            refused = await client.put(url, json=wrong, headers={**platform, **FHIR})
            assert refused.status_code == 400, refused.text
            assert OperationOutcome.model_validate(refused.json()).issue[0].expression == ["id"]
        other = auth("effector", ["36"], practitioner_id=(await create_practitioner(client, auth("admin")))["id"])
        assert (await client.put(url, json={**body, "id": appointment_id, "status": "cancelled"},
                                 headers={**other, **FHIR})).status_code == 403  # another agenda's

        done = await client.put(url, json={**body, "id": appointment_id, "status": "cancelled"},
                                headers={**platform, **FHIR})
        assert (done.status_code, done.json()["status"], done.json()["id"]) == (200, "cancelled", appointment_id)
        assert done.headers["location"].endswith(url)
        booking = (await client.get(f"/v1/bookings/{appointment_id}", headers=auth("regulator", ["36"]))).json()
        assert booking["status"] == "cancelled"

        unknown = uuid.uuid4()
        missing = await client.put(f"/fhir/Appointment/{unknown}", json={**body, "id": str(unknown)},
                                   headers={**platform, **FHIR})
        assert missing.status_code == 404 and missing.json()["resourceType"] == "OperationOutcome"


async def _slot_at(client, w: dict, hours: int, **fields) -> dict:
    """Another slot of the world's doctor at his site, ``hours`` after the first."""
    start, end = w["start"] + dt.timedelta(hours=hours), w["end"] + dt.timedelta(hours=hours)
    made = await client.post("/v1/slots", json={"practitioner_id": w["doctor"]["id"], "site_id": w["site"]["id"],
                                                "start": start.isoformat(), "end": end.isoformat(),
                                                "mode": "in_person", **fields}, headers=w["effector"])
    assert made.status_code == 201, made.text
    return made.json()


def _at(body: dict, slot: dict) -> dict:
    return {**body, "start": slot["start"], "end": slot["end"]}


class TestAMoveMovesTheBooking:
    """An update that moves an appointment (booked, at another time) moves its booking to the practitioner's
    slot at the new time if it is free, 409 otherwise; the appointment keeps its id and identifier."""

    async def test_a_booked_appointment_declared_at_another_time_takes_the_slot_then(self, client, auth) -> None:
        w = await _world(client, auth)
        platform = {**auth("platform", []), **FHIR}
        regulator = auth("regulator", ["36"])
        later, taken = await _slot_at(client, w, 1), await _slot_at(client, w, 2)
        body = declared(w["doctor"]["rpps"], w["start"], w["end"], value="to-move")
        made = await client.post("/fhir/Appointment", json=body, headers=platform)
        assert made.status_code == 201, made.text
        appointment_id = made.json()["id"]
        other = declared(w["doctor"]["rpps"], w["start"], w["end"], value="holds-the-slot")
        assert (await client.post("/fhir/Appointment", json=_at(other, taken), headers=platform)).status_code == 201
        query = {"identifier": f"{body['identifier'][0]['system']}|to-move"}

        moved = await client.put("/fhir/Appointment", params=query, json=_at(body, later), headers=platform)
        assert moved.status_code == 200, moved.text
        appointment = moved.json()
        assert (appointment["id"], appointment["status"]) == (appointment_id, "booked")
        assert appointment["identifier"] == [{"system": body["identifier"][0]["system"], "value": "to-move"}]
        assert (dt.datetime.fromisoformat(appointment["start"]), dt.datetime.fromisoformat(appointment["end"])) == (
            dt.datetime.fromisoformat(later["start"]), dt.datetime.fromisoformat(later["end"]))
        assert moved.headers["location"].endswith(f"/fhir/Appointment/{appointment_id}")
        booking = (await client.get(f"/v1/bookings/{appointment_id}", headers=regulator)).json()
        assert (booking["slot_id"], booking["status"]) == (later["id"], "active")
        free = await client.get("/v1/slots/search", params={"territory": "36"}, headers=regulator)
        free_ids = [s["id"] for s in free.json()["items"]]
        assert w["slot"]["id"] in free_ids and later["id"] not in free_ids  # the old time is offered again
        events = (await client.get("/v1/effectors/me/bookings", headers=w["effector"])).json()["events"]
        assert [(e["kind"], e["payload"]["slot_id"], e["payload"]["booking_id"]) for e in events[-2:]] == [
            ("booking.cancelled", w["slot"]["id"], appointment_id), ("booking.created", later["id"], appointment_id)]
        again = await client.put("/fhir/Appointment", params=query, json=_at(body, later), headers=platform)
        assert (again.status_code, again.json()) == (200, appointment)  # sent again: nothing changes twice

        # The slot at the new time holds another patient: 409, and the appointment stays where it was.
        refused = await client.put("/fhir/Appointment", params=query, json=_at(body, taken), headers=platform)
        assert refused.status_code == 409, refused.text
        assert OperationOutcome.model_validate(refused.json()).issue[0].code == "conflict"
        nowhere = {**body, "start": (w["start"] + dt.timedelta(minutes=5)).isoformat(),
                   "end": (w["end"] + dt.timedelta(minutes=5)).isoformat()}
        no_slot = await client.put("/fhir/Appointment", params=query, json=nowhere, headers=platform)
        assert (no_slot.status_code, no_slot.json()["issue"][0]["expression"]) == (422, ["start"])
        stranger = await create_practitioner(client, auth("admin"), ["36"])
        elsewho = copy.deepcopy(body)  # back to the first time, free again, but with another practitioner
        elsewho["participant"][0]["actor"]["identifier"]["value"] = "8" + stranger["rpps"]
        assert (await client.put("/fhir/Appointment", params=query, json=elsewho, headers=platform)
                ).json()["issue"][0]["expression"] == ["participant"]
        booking = (await client.get(f"/v1/bookings/{appointment_id}", headers=regulator)).json()
        assert booking["slot_id"] == later["id"]

        # By its id (FHIR's update), back to the first time, now free again.
        url = f"/fhir/Appointment/{appointment_id}"
        back = await client.put(url, json={**body, "id": appointment_id}, headers=platform)
        assert (back.status_code, back.json()["id"]) == (200, appointment_id), back.text
        booking = (await client.get(f"/v1/bookings/{appointment_id}", headers=regulator)).json()
        assert booking["slot_id"] == w["slot"]["id"]

        # Only a booked appointment moves; a cancelled one is not booked again elsewhere.
        late = await client.put(url, json={**_at(body, later), "id": appointment_id, "status": "cancelled"},
                                headers=platform)
        assert (late.status_code, late.json()["issue"][0]["expression"]) == (422, ["start"])
        assert (await client.put(url, json={**body, "id": appointment_id, "status": "cancelled"}, headers=platform)
                ).status_code == 200
        revived = await client.put(url, json={**_at(body, later), "id": appointment_id}, headers=platform)
        assert revived.status_code == 409, revived.text

    async def test_a_slot_not_open_to_the_platform_is_not_taken_by_a_move(self, client, auth) -> None:
        w = await _world(client, auth)
        platform = {**auth("platform", []), **FHIR}
        veiled = await _slot_at(client, w, 1, bookable_by=["urgences"])
        body = declared(w["doctor"]["rpps"], w["start"], w["end"], value="veiled")
        assert (await client.post("/fhir/Appointment", json=body, headers=platform)).status_code == 201
        query = {"identifier": f"{body['identifier'][0]['system']}|veiled"}
        refused = await client.put("/fhir/Appointment", params=query, json=_at(body, veiled), headers=platform)
        assert refused.status_code == 409, refused.text
        assert "not open" in OperationOutcome.model_validate(refused.json()).issue[0].diagnostics
        # The practitioner's own agenda takes any of his slots: its appointment moves there.
        mine = declared(w["doctor"]["rpps"], w["start"], w["end"], value="his-own")
        cancelled = await client.put("/fhir/Appointment", params=query, json={**body, "status": "cancelled"},
                                     headers=platform)
        assert cancelled.status_code == 200, cancelled.text
        assert (await client.post("/fhir/Appointment", json=mine, headers={**w["effector"], **FHIR})
                ).status_code == 201
        his_own = {"identifier": f"{body['identifier'][0]['system']}|his-own"}
        moved = await client.put("/fhir/Appointment", params=his_own, json=_at(mine, veiled),
                                 headers={**w["effector"], **FHIR})
        assert moved.status_code == 200, moved.text


class TestMovesSentTogether:
    """Moves on real concurrent connections: never two patients in one slot."""

    async def test_five_appointments_moved_to_one_slot_at_once_one_wins(self, committed_client, auth, engine) -> None:
        import asyncio

        client = committed_client
        w = await _world(client, auth)
        platform = {**auth("platform", []), **FHIR}
        target = await _slot_at(client, w, 10)
        bodies = []
        for n in range(5):
            own = await _slot_at(client, w, 1 + n)
            body = _at(declared(w["doctor"]["rpps"], w["start"], w["end"], value=f"racer-{n}"), own)
            assert (await client.post("/fhir/Appointment", json=body, headers=platform)).status_code == 201
            bodies.append(body)
        answers = await asyncio.gather(*(
            client.put("/fhir/Appointment", params={"identifier": f"{b['identifier'][0]['system']}|"
                                                                  f"{b['identifier'][0]['value']}"},
                       json=_at(b, target), headers=platform) for b in bodies))
        assert sorted(a.status_code for a in answers) == [200, 409, 409, 409, 409], [a.text for a in answers]
        async with engine.connect() as conn:
            active = await conn.scalar(text("SELECT count(*) FROM bookings WHERE slot_id = :s AND status = 'active'"),
                                       {"s": target["id"]})
            booked = await conn.scalar(text("SELECT count(*) FROM slots s WHERE s.practitioner_id = :p "
                                            "AND s.status = 'booked'"), {"p": w["doctor"]["id"]})
        assert (active, booked) == (1, 5)  # one moved there, four stayed where they were, the winner's old slot freed

        # The same move sent five times at once: each answers 200, the booking moved once.
        loser = next(b for b, a in zip(bodies, answers, strict=True) if a.status_code == 409)
        query = {"identifier": f"{loser['identifier'][0]['system']}|{loser['identifier'][0]['value']}"}
        elsewhere = await _slot_at(client, w, 11)
        twins = await asyncio.gather(*(client.put("/fhir/Appointment", params=query, json=_at(loser, elsewhere),
                                                  headers=platform) for _ in range(5)))
        assert [a.status_code for a in twins] == [200] * 5, [a.text for a in twins]
        async with engine.connect() as conn:
            events = await conn.scalar(text("SELECT count(*) FROM outbox_events WHERE kind = 'booking.created' "
                                            "AND payload->>'slot_id' = :s"), {"s": elsewhere["id"]})
        assert events == 1
