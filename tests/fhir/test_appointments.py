"""Appointments declared to us (FrAppointmentSAS, the guide's "gestionnaire d'agenda RDV"): an agenda's
booked appointment takes the practitioner's slot through the one booking statement, a repeat changes
nothing, a conditional update cancels it or gives its outcome; what we answer is held to the guide's
example and to the R4B model; every refusal is an OperationOutcome naming the element."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.operationoutcome import OperationOutcome
from sqlalchemy import text

from app.fhir.appointments import OPERATOR, PROFILE
from tests.fhir.helpers import FHIR, GUIDE, _world, declared
from tests.support.factories import create_practitioner

PS_OID = "urn:oid:1.2.250.1.71.4.2.1"






def _outcome(response) -> OperationOutcome:
    assert response.headers["content-type"].startswith("application/fhir+json"), response.text
    return OperationOutcome.model_validate(response.json())


class TestDeclaredToUs:
    async def test_an_agenda_books_cancels_and_a_repeat_changes_nothing(self, client, auth, connection) -> None:
        w = await _world(client, auth)
        platform = auth("platform", [])
        body = declared(w["doctor"]["rpps"], w["start"], w["end"])
        made = await client.post("/fhir/Appointment", json=body, headers={**platform, **FHIR})
        assert made.status_code == 201, made.text
        appointment = Appointment.model_validate(made.json())
        assert made.headers["location"].endswith(f"/fhir/Appointment/{appointment.id}")
        assert (appointment.status, appointment.identifier[0].value) == ("booked", body["identifier"][0]["value"])
        booking = await client.get(f"/v1/bookings/{appointment.id}", headers=auth("regulator", ["36"]))
        assert (booking.json()["slot_id"], booking.json()["status"]) == (w["slot"]["id"], "active")
        channel = await connection.scalar(text("SELECT c.channel FROM calls c JOIN bookings b ON b.call_id = c.id "
                                               "WHERE b.id = :id"), {"id": appointment.id})
        assert channel == "autre"

        again = await client.post("/fhir/Appointment", json=body, headers={**platform, **FHIR})
        assert (again.status_code, again.json()["id"]) == (200, appointment.id)
        assert await connection.scalar(text("SELECT count(*) FROM bookings WHERE slot_id = :s"),
                                       {"s": w["slot"]["id"]}) == 1

        # Another agenda's appointment on the same slot: the slot holds one patient.
        other = declared(w["doctor"]["rpps"], w["start"], w["end"], value="another")
        taken = await client.post("/fhir/Appointment", json=other, headers={**platform, **FHIR})
        assert taken.status_code == 409
        assert _outcome(taken).issue[0].code == "conflict"

        cancelled = {**body, "status": "cancelled"}
        query = {"identifier": f"{body['identifier'][0]['system']}|{body['identifier'][0]['value']}"}
        done = await client.put("/fhir/Appointment", params=query, json=cancelled, headers={**platform, **FHIR})
        assert (done.status_code, done.json()["status"]) == (200, "cancelled"), done.text
        repeat = await client.put("/fhir/Appointment", params=query, json=cancelled, headers={**platform, **FHIR})
        assert repeat.status_code == 200
        free = await client.get("/v1/slots/search", params={"territory": "36"}, headers=auth("regulator", ["36"]))
        assert w["slot"]["id"] in [s["id"] for s in free.json()["items"]]

        # Now the other agenda's appointment takes the freed slot.
        assert (await client.post("/fhir/Appointment", json=other, headers={**platform, **FHIR})).status_code == 201

    async def test_the_outcome_comes_after_the_start(self, client, auth, connection) -> None:
        w = await _world(client, auth)
        body = declared(w["doctor"]["rpps"], w["start"], w["end"], value="visit-1")
        made = await client.post("/fhir/Appointment", json=body, headers={**w["effector"], **FHIR})
        assert made.status_code == 201, made.text  # the practitioner's own agenda
        query = {"identifier": f"{body['identifier'][0]['system']}|visit-1"}
        early = await client.put("/fhir/Appointment", params=query, json={**body, "status": "fulfilled"},
                                 headers={**w["effector"], **FHIR})
        assert early.status_code == 409
        # Time passes: the appointment has begun (and ended).
        start, end = (await connection.execute(text(
            "UPDATE slots SET start_at = date_trunc('minute', now()) - interval '20 minutes', "
            "end_at = date_trunc('minute', now()) - interval '5 minutes' WHERE id = :id RETURNING start_at, end_at"),
            {"id": w["slot"]["id"]})).one()
        moved = await client.put("/fhir/Appointment", params=query, json={**body, "status": "noshow"},
                                 headers={**w["effector"], **FHIR})
        assert (moved.status_code, _outcome(moved).issue[0].expression) == (422, ["start"])  # not its time
        body.update(start=start.isoformat(), end=end.isoformat())
        seen = await client.put("/fhir/Appointment", params=query, json={**body, "status": "noshow"},
                                headers={**w["effector"], **FHIR})
        assert (seen.status_code, seen.json()["status"]) == (200, "noshow"), seen.text
        booking = await client.get(f"/v1/bookings/{made.json()['id']}", headers=auth("regulator", ["36"]))
        assert booking.json()["outcome"] == "noshow"
        events = await client.get("/v1/effectors/me/bookings", headers=w["effector"])
        assert [e["kind"] for e in events.json()["events"]][-1] == "booking.outcome"

    async def test_refusals_name_the_element(self, client, auth) -> None:
        w = await _world(client, auth)
        platform = {**auth("platform", []), **FHIR}
        good = declared(w["doctor"]["rpps"], w["start"], w["end"])
        cases: list[tuple[dict[str, Any], int, str]] = []
        unknown = declared("10000000009", w["start"], w["end"])
        cases.append((unknown, 422, "participant"))
        elsewhen = declared(w["doctor"]["rpps"], w["start"] + dt.timedelta(hours=1), w["end"] + dt.timedelta(hours=1))
        cases.append((elsewhen, 422, "start"))
        anonymous = copy.deepcopy(good)
        anonymous["extension"] = []
        cases.append((anonymous, 422, "extension"))
        first_cancelled = {**good, "status": "cancelled"}
        cases.append((first_cancelled, 422, "status"))
        proposed = {**good, "status": "proposed"}
        cases.append((proposed, 422, "status"))
        neither = copy.deepcopy(good)  # neither 8 + RPPS nor 0 + ADELI
        neither["participant"][0]["actor"]["identifier"]["value"] = "7123456789"
        cases.append((neither, 422, "participant[0].actor.identifier"))
        for body, status, element in cases:
            answer = await client.post("/fhir/Appointment", json=body, headers=platform)
            assert answer.status_code == status, (element, answer.text)
            assert element in (_outcome(answer).issue[0].expression or [""])[0], (element, answer.text)
        broken = await client.post("/fhir/Appointment", content=b"{not json", headers=platform)
        assert broken.status_code == 400 and _outcome(broken).issue[0].code
        stranger = auth("effector", ["36"], practitioner_id=(await create_practitioner(client, auth("admin")))["id"])
        foreign = await client.post("/fhir/Appointment", json=good, headers={**stranger, **FHIR})
        assert foreign.status_code == 403
        assert (await client.post("/fhir/Appointment", json=good, headers={**auth("regulator", ["36"]), **FHIR})
                ).status_code == 403

    async def test_what_we_answer_is_the_guides_appointment(self, client, auth) -> None:
        w = await _world(client, auth)
        made = await client.post("/fhir/Appointment", json=declared(w["doctor"]["rpps"], w["start"], w["end"]),
                                 headers={**auth("platform", []), **FHIR})
        ours, guide = made.json(), json.loads((GUIDE / "Appointment-1.json").read_text(encoding="utf-8"))
        assert ours["meta"]["profile"] == guide["meta"]["profile"] == [PROFILE]
        assert [e["url"] for e in ours["extension"]] == [e["url"] for e in guide["extension"]] == [OPERATOR]
        # Who booked and when, kept as the declaration gave them (the guide's regulator 3456780581/11242343).
        assert ours["extension"] == guide["extension"]
        assert dt.datetime.fromisoformat(ours["created"]) == dt.datetime.fromisoformat(guide["created"])
        ours_type = ours["extension"][0]["valueReference"]["identifier"]["type"]["coding"][0]
        assert ours_type["system"] == guide["extension"][0]["valueReference"]["identifier"]["type"]["coding"][0][
            "system"]
        actor, guide_actor = ours["participant"][0], guide["participant"][0]
        assert actor["actor"]["identifier"]["type"] == guide_actor["actor"]["identifier"]["type"]
        assert actor["actor"]["identifier"]["system"] == guide_actor["actor"]["identifier"]["system"] == PS_OID
        assert actor["status"] == guide_actor["status"] == "accepted"
        assert Appointment.model_validate(ours).status == "booked"
        read = await client.get(f"/fhir/Appointment/{ours['id']}", headers=auth("platform", []))
        assert read.json() == ours
        mine = await client.get(f"/fhir/Appointment/{ours['id']}", headers=w["effector"])
        assert mine.status_code == 200
        other = auth("effector", ["36"], practitioner_id=(await create_practitioner(client, auth("admin")))["id"])
        assert (await client.get(f"/fhir/Appointment/{ours['id']}", headers=other)).status_code == 404


class TestSentTogether:
    """Identical conditional updates sent at once, on real concurrent connections (a declarer that retries,
    two relays): each answers 200 with the same state; a different change of a final state is 409."""

    async def test_ten_identical_cancellations_and_outcomes_all_answer_200(
        self, committed_client, auth, engine
    ) -> None:
        import asyncio

        client = committed_client
        w = await _world(client, auth)
        platform = auth("platform", [])
        body = declared(w["doctor"]["rpps"], w["start"], w["end"], value="together-1")
        made = await client.post("/fhir/Appointment", json=body, headers={**platform, **FHIR})
        assert made.status_code == 201, made.text
        query = {"identifier": f"{body['identifier'][0]['system']}|together-1"}
        cancelled = {**body, "status": "cancelled"}
        answers = await asyncio.gather(*(
            client.put("/fhir/Appointment", params=query, json=cancelled, headers={**platform, **FHIR})
            for _ in range(10)))
        assert [a.status_code for a in answers] == [200] * 10, [a.text for a in answers if a.status_code != 200]
        assert {a.json()["status"] for a in answers} == {"cancelled"}
        async with engine.connect() as conn:
            events = await conn.scalar(text(
                "SELECT count(*) FROM outbox_events WHERE kind = 'booking.cancelled' AND payload->>'booking_id' = :id"),
                {"id": made.json()["id"]})
        assert events == 1  # cancelled once

        # An appointment that has begun: ten identical outcomes at once, then a different one.
        second = declared(w["doctor"]["rpps"], w["start"], w["end"], value="together-2")
        booked = await client.post("/fhir/Appointment", json=second, headers={**platform, **FHIR})
        assert booked.status_code == 201, booked.text
        async with engine.begin() as conn:
            start, end = (await conn.execute(text(
                "UPDATE slots SET start_at = date_trunc('minute', now()) - interval '20 minutes', "
                "end_at = date_trunc('minute', now()) - interval '5 minutes' WHERE id = :id "
                "RETURNING start_at, end_at"), {"id": w["slot"]["id"]})).one()
        second.update(start=start.isoformat(), end=end.isoformat())
        query = {"identifier": f"{second['identifier'][0]['system']}|together-2"}
        answers = await asyncio.gather(*(
            client.put("/fhir/Appointment", params=query, json={**second, "status": "fulfilled"},
                       headers={**platform, **FHIR})
            for _ in range(10)))
        assert [a.status_code for a in answers] == [200] * 10, [a.text for a in answers if a.status_code != 200]
        other = await client.put("/fhir/Appointment", params=query, json={**second, "status": "noshow"},
                                 headers={**platform, **FHIR})
        assert other.status_code == 409 and _outcome(other).issue[0].code == "conflict"
        late = await client.put("/fhir/Appointment", params=query, json={**second, "status": "cancelled"},
                                headers={**platform, **FHIR})
        assert late.status_code == 409
