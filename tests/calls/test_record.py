"""The record of the regulation: the SAMU's file number on a call, and the observations — signed, dated,
append-only (a correction names what it corrects, both stay), sealed at rest, audited when read, kept for
the record's own retention."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.bookings.helpers import make_call, make_slot, world
from tests.calls.helpers import create_call


class TestTheSamuFileNumber:
    async def test_a_call_carries_the_samu_file_number_shown_and_searchable(self, client, auth):
        operator = auth("operator")
        call = await create_call(client, operator, samu_case_id="DRFR15360000123")
        assert call["samu_case_id"] == "DRFR15360000123"
        await create_call(client, operator)
        found = (await client.get("/v1/calls", params={"samu_case_id": "DRFR15360000123"}, headers=operator)).json()
        assert [c["id"] for c in found] == [call["id"]] and found[0]["samu_case_id"] == "DRFR15360000123"
        detail = (await client.get(f"/v1/calls/{call['id']}", headers=auth("regulator"))).json()
        assert detail["samu_case_id"] == "DRFR15360000123"

    async def test_a_file_number_that_is_no_file_number_is_refused_naming_the_field(self, client, auth):
        refused = await client.post("/v1/calls", headers=auth("operator"), json={
            "territory_code": "36", "channel": "15", "samu_case_id": "DR 15; drop"})
        assert refused.status_code == 422 and refused.json()["field"] == "samu_case_id"


class TestObservations:
    async def test_observations_are_signed_dated_in_order_and_a_correction_keeps_both(self, client, auth):
        call = await create_call(client, auth("operator"))
        url = f"/v1/calls/{call['id']}/observations"
        await client.post("/v1/users", json={"subject": "dr-obs", "display_name": "Dr Odile Bs", "role": "regulator",
                                             "territories": ["36"]}, headers=auth("admin"))
        regulator = auth("regulator", sub="dr-obs")
        first = await client.post(url, json={"text": "Douleur thoracique depuis 2 h, pas de dyspnée"},
                                  headers=regulator)
        assert first.status_code == 201, first.text
        body = first.json()
        assert (body["author"], body["author_role"], body["author_name"]) == ("dr-obs", "regulator", "Dr Odile Bs")
        assert body["text"] == "Douleur thoracique depuis 2 h, pas de dyspnée" and body["corrects"] is None
        fix = await client.post(url, json={"text": "Douleur depuis 2 jours (et non 2 h)", "corrects": body["id"]},
                                headers=regulator)
        assert fix.status_code == 201 and fix.json()["corrects"] == body["id"]

        listed = (await client.get(url, headers=auth("operator"))).json()
        assert [o["id"] for o in listed] == [body["id"], fix.json()["id"]]
        assert listed[0]["corrected_by"] == [fix.json()["id"]] and listed[0]["text"].startswith("Douleur thoracique")

    async def test_a_correction_names_an_observation_of_the_same_call(self, client, auth):
        regulator = auth("regulator")
        one, other = await create_call(client, auth("operator")), await create_call(client, auth("operator"))
        theirs = (await client.post(f"/v1/calls/{other['id']}/observations", json={"text": "x"},
                                    headers=regulator)).json()
        for corrects in (theirs["id"], str(uuid.uuid4())):
            refused = await client.post(f"/v1/calls/{one['id']}/observations",
                                        json={"text": "correction", "corrects": corrects}, headers=regulator)
            assert refused.status_code == 422 and refused.json()["field"] == "corrects"
        empty = await client.post(f"/v1/calls/{one['id']}/observations", json={"text": ""}, headers=regulator)
        assert empty.status_code == 422 and empty.json()["field"] == "text"

    async def test_who_may_write_and_read_them(self, client, auth):
        call = await create_call(client, auth("operator"))
        url = f"/v1/calls/{call['id']}/observations"
        assert (await client.post(url, json={"text": "x"}, headers=auth("analyst"))).status_code == 403
        assert (await client.get(url, headers=auth("urgences"))).status_code == 403
        assert (await client.get(url, headers=auth("regulator", ["18"]))).status_code == 404  # another territory

    async def test_sealed_at_rest_audited_when_read_and_never_changed(self, client, auth, connection):
        call = await create_call(client, auth("operator"))
        url = f"/v1/calls/{call['id']}/observations"
        written = (await client.post(url, json={"text": "Allergie pénicilline"}, headers=auth("regulator"))).json()
        stored = (await connection.execute(text("SELECT text FROM call_observations WHERE id = :id"),
                                           {"id": uuid.UUID(written["id"])})).scalar()
        assert stored.startswith("e1.") and "pénicilline" not in stored
        await client.get(url, headers=auth("regulator", sub="dr-reader"))
        audit = (await client.get("/v1/audit", params={"call_id": call["id"]}, headers=auth("admin"))).json()
        assert [e["actor_sub"] for e in audit if e["action"] == "call.observations.read"] == ["dr-reader"]
        with pytest.raises(DBAPIError, match="never changed"):
            async with connection.begin_nested():
                await connection.execute(text("UPDATE call_observations SET author = 'someone-else' WHERE id = :id"),
                                         {"id": uuid.UUID(written["id"])})

    async def test_the_record_keeps_its_own_retention_not_the_identity_s(self, client, auth, connection, app):
        call = await create_call(client, auth("operator"))
        recent = (await client.post(f"/v1/calls/{call['id']}/observations", json={"text": "récent"},
                                    headers=auth("regulator"))).json()
        old = (await connection.execute(text(
            "INSERT INTO call_observations (call_id, at, author, author_role, text) "
            "VALUES (:call, now() - interval '21 years', 'dr-old', 'regulator', :text) RETURNING id"),
            {"call": uuid.UUID(call["id"]), "text": "à purger"})).scalar()
        purged = await client.post("/v1/calls/purge", headers=auth("admin", []))
        assert purged.status_code == 200 and purged.json()["observations_purged"] == 1
        listed = {o["id"]: o for o in (await client.get(f"/v1/calls/{call['id']}/observations",
                                                        headers=auth("regulator"))).json()}
        assert listed[str(old)]["text"] is None and listed[recent["id"]]["text"] == "récent"
        assert app.state.settings.record_retention_days == 7305  # 20 years, the medical record's rule


class TestCorrections:
    async def test_a_call_is_corrected_each_change_audited_sealed_and_the_due_time_moves(self, client, auth):
        call = await create_call(client, auth("operator"), priority="P3")
        url = f"/v1/calls/{call['id']}"
        corrected = await client.patch(url, headers=auth("regulator", sub="dr-fix"), json={
            "patient": {"phone": "0612345678", "birth_year": 1951}, "priority": "P1", "samu_case_id": "DR-36-42"})
        assert corrected.status_code == 200, corrected.text
        body = corrected.json()
        assert body["patient"]["phone"] == "0612345678" and body["patient"]["birth_year"] == 1951
        assert body["patient"]["family_name"] == "Durand"  # not sent: kept
        assert body["priority"] == "P1" and body["samu_case_id"] == "DR-36-42"
        received = dt.datetime.fromisoformat(body["received_at"])
        assert dt.datetime.fromisoformat(body["due_at"]) - received == dt.timedelta(minutes=20)
        audit = (await client.get("/v1/audit", params={"call_id": call["id"]}, headers=auth("admin"))).json()
        entry = next(e for e in audit if e["action"] == "call.corrected")
        assert entry["actor_sub"] == "dr-fix"
        assert set(entry["detail"]) == {"patient.phone", "patient.birth_year", "priority", "samu_case_id"}
        assert "0612345678" not in json.dumps(entry) and entry["detail"]["patient.phone"]["new"].startswith("e1.")
        cleared = await client.patch(url, headers=auth("operator"), json={"samu_case_id": None})
        assert cleared.json()["samu_case_id"] is None

    async def test_a_correction_is_checked_as_an_entry_is(self, client, auth):
        call = await create_call(client, auth("operator"))
        url = f"/v1/calls/{call['id']}"
        for body, field in (({"priority": "P9"}, "priority"), ({"patient": {"postcode": "3600"}}, "patient.postcode"),
                            ({"reason": "x" * 2001}, "reason"), ({"status": "closed"}, "status")):
            refused = await client.patch(url, headers=auth("operator"), json=body)
            assert refused.status_code == 422 and refused.json()["field"] == field, (body, refused.text)
        assert (await client.patch(url, headers=auth("operator", ["18"]), json={"priority": "P1"})).status_code == 404
        assert (await client.patch(url, headers=auth("analyst"), json={"priority": "P1"})).status_code == 403

    async def test_a_corrected_phone_reaches_the_effector_of_an_active_booking(self, client, auth):
        w = await world(client, auth)
        slot = await make_slot(client, auth, w, mode="home_visit")
        call = await make_call(client, auth)
        booked = await client.post("/v1/bookings", json={"slot_id": slot, "call_id": call["id"]},
                                   headers=auth("operator"))
        assert booked.status_code == 201, booked.text
        await client.patch(f"/v1/calls/{call['id']}", headers=auth("operator"),
                           json={"patient": {"phone": "0699887766"}})
        me = auth("effector", practitioner_id=w.practitioner_id)
        events = (await client.get("/v1/effectors/me/bookings", headers=me)).json()["events"]
        assert [e["kind"] for e in events] == ["booking.created", "booking.updated"]
        assert events[-1]["payload"]["patient"]["phone"] == "0699887766"
        await client.patch(f"/v1/calls/{call['id']}", headers=auth("operator"), json={"priority": "P2"})
        again = (await client.get("/v1/effectors/me/bookings", headers=me)).json()["events"]
        assert len(again) == 2  # a priority is not the effector's business


class TestPrescriptions:
    async def test_a_prescription_keeps_what_was_prescribed_sealed_beside_the_pharmacy(self, client, auth, connection):
        call = await create_call(client, auth("operator"))
        url = f"/v1/calls/{call['id']}/decisions"
        made = await client.post(url, headers=auth("regulator"), json={
            "kind": "prescription", "pharmacy": {"name": "Pharmacie du Centre", "finess": "360000012"},
            "prescribed": "Paracétamol 1 g, 3 fois par jour, 3 jours"})
        assert made.status_code == 201, made.text
        assert made.json()["prescribed"] == "Paracétamol 1 g, 3 fois par jour, 3 jours"
        stored = (await connection.execute(text("SELECT prescribed FROM decisions WHERE id = :id"),
                                           {"id": uuid.UUID(made.json()["id"])})).scalar()
        assert stored.startswith("e1.") and "Paracétamol" not in stored
        detail = (await client.get(f"/v1/calls/{call['id']}", headers=auth("regulator"))).json()
        assert detail["decisions"][0]["prescribed"] == "Paracétamol 1 g, 3 fois par jour, 3 jours"
        misplaced = await client.post(url, headers=auth("regulator"), json={"kind": "advice", "prescribed": "x"})
        assert misplaced.status_code == 422 and misplaced.json()["field"] == "prescribed"


class TestTriageInTheQueue:
    async def test_the_queue_shows_age_sex_and_the_reasons_first_words_and_the_read_is_audited(
            self, client, auth):
        operator = auth("operator")
        year = dt.datetime.now(dt.UTC).year
        call = await create_call(client, operator, patient={"phone": "0611223344", "birth_year": year - 67,
                                                            "sex": "F", "family_name": "Secret"},
                                 reason="Fièvre à 39,5 depuis trois jours chez une patiente diabétique sous "
                                        "insuline, toux productive, pas de dyspnée")
        plain = (await client.get("/v1/calls", params={"open": "true"}, headers=operator)).json()
        assert all(c["triage"] is None for c in plain)

        shown = (await client.get("/v1/calls", params={"open": "true", "triage": "true"},
                                  headers=auth("regulator", sub="dr-triage"))).json()
        row = next(c for c in shown if c["id"] == call["id"])
        assert (row["triage"]["age"], row["triage"]["sex"]) == (67, "F")
        excerpt = row["triage"]["reason_excerpt"]
        assert excerpt.startswith("Fièvre à 39,5 depuis trois jours") and excerpt.endswith("…")
        assert len(excerpt) <= 60 and "Secret" not in json.dumps(row) and "0611223344" not in json.dumps(row)

        audit = (await client.get("/v1/audit", params={"action": "calls.triage.read"}, headers=auth("admin"))).json()
        assert any(e["actor_sub"] == "dr-triage" and call["id"] in e["detail"]["call_ids"] for e in audit)


class TestTheTimeline:
    async def test_the_whole_regulation_of_a_call_reads_as_one_timeline_in_order(self, committed_client, auth):
        # Each request commits, as in service: the acts' times are those of their own transactions.
        client = committed_client
        admin = auth("admin")
        for sub, name in (("op-tl", "Olivia Pérateur"), ("dr-tl", "Dr Régis Gulateur"), ("dr-tl2", "Dr Rita Prend")):
            role = "operator" if sub.startswith("op") else "regulator"
            await client.post("/v1/users", json={"subject": sub, "display_name": name, "role": role,
                                                 "territories": ["36"]}, headers=admin)
        operator, regulator, other = auth("operator", sub="op-tl"), auth("regulator", sub="dr-tl"), \
            auth("regulator", sub="dr-tl2")
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        call = await make_call(client, auth)
        url = f"/v1/calls/{call['id']}"
        assert (await client.post(f"{url}/assign", json={}, headers=regulator)).status_code == 200
        assert (await client.post(f"{url}/assign", json={"take_over": True}, headers=other)).status_code == 200
        await client.post(f"{url}/callback", json={"answered": True}, headers=other)
        await client.post(f"{url}/observations", json={"text": "Otalgie droite, fébrile"}, headers=other)
        await client.patch(url, json={"priority": "P2"}, headers=operator)
        booked = (await client.post("/v1/bookings", json={"slot_id": slot, "call_id": call["id"]},
                                    headers=other)).json()
        cancelled = await client.post(f"/v1/bookings/{booked['id']}/cancel", headers=other,
                                      json={"reason": "patient injoignable"})
        assert cancelled.status_code == 200, cancelled.text
        advice = await client.post(f"{url}/decisions", json={"kind": "advice"}, headers=other)
        assert advice.status_code == 201, advice.text
        assert (await client.post(f"{url}/close", headers=other)).status_code == 200

        answer = await client.get(f"{url}/timeline", headers=regulator)
        assert answer.status_code == 200, answer.text
        entries = answer.json()
        kinds = [e["kind"] for e in entries]
        assert kinds[0] == "received" and kinds[-1] == "closed"
        for kind in ("assigned", "taken_over", "callback", "observation", "corrected", "appointment",
                     "appointment_cancelled", "decision"):
            assert kind in kinds, (kind, kinds)
        assert kinds.index("assigned") < kinds.index("taken_over") < kinds.index("callback") \
            < kinds.index("observation") < kinds.index("corrected") < kinds.index("appointment")
        at = [e["at"] for e in entries]
        assert at == sorted(at, key=dt.datetime.fromisoformat)
        by_kind = {e["kind"]: e for e in entries}
        assert by_kind["assigned"]["by_name"] == "Dr Régis Gulateur"
        assert by_kind["taken_over"]["detail"] == {"from": "dr-tl", "to": "dr-tl2"}
        assert by_kind["observation"]["detail"]["text"] == "Otalgie droite, fébrile"
        assert by_kind["corrected"]["detail"] == {"fields": ["priority"]}
        assert by_kind["corrected"]["by_name"] == "Olivia Pérateur"
        appointment = by_kind["appointment"]
        assert appointment["struck"] is True and appointment["detail"]["booking_id"] == booked["id"]
        assert by_kind["appointment_cancelled"]["detail"]["reason"] == "patient injoignable"
        assert by_kind["closed"]["by"] == "dr-tl2" and by_kind["closed"]["by_name"] == "Dr Rita Prend"

        audit = (await client.get("/v1/audit", params={"call_id": call["id"]}, headers=admin)).json()
        assert any(e["action"] == "call.timeline.read" and e["actor_sub"] == "dr-tl" for e in audit)

    async def test_a_revoked_decision_stays_struck_through_beside_its_revocation(self, client, auth):
        call = await create_call(client, auth("operator"))
        url = f"/v1/calls/{call['id']}"
        decision = (await client.post(f"{url}/decisions", json={"kind": "advice"}, headers=auth("regulator"))).json()
        revoked = await client.post(f"{url}/decisions/{decision['id']}/revoke", json={"reason": "erreur de saisie"},
                                    headers=auth("regulator"))
        assert revoked.status_code == 200, revoked.text
        entries = (await client.get(f"{url}/timeline", headers=auth("operator"))).json()
        made = next(e for e in entries if e["kind"] == "decision")
        assert made["struck"] is True and made["detail"]["kind"] == "advice"
        undone = next(e for e in entries if e["kind"] == "decision_revoked")
        assert undone["detail"] == {"decision_id": decision["id"], "reason": "erreur de saisie"}
        assert (await client.get(f"{url}/timeline", headers=auth("operator", ["18"]))).status_code == 404
