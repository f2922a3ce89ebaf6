from __future__ import annotations

import datetime as dt

from structlog.testing import capture_logs

from tests.calls.helpers import PATIENT, create_call, make_booking, now
from tests.support.factories import create_cpts


def iso(value: dt.datetime) -> str:
    return value.isoformat()


def parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


class TestCreateCall:
    async def test_an_operator_enters_a_call_and_its_due_time_follows_the_priority(self, client, auth):
        received = now() - dt.timedelta(minutes=5)
        call = await create_call(client, auth("operator"), priority="P2", received_at=iso(received),
                                 intent_without_sas="urgences")
        assert call["status"] == "waiting" and call["source"] == "live"
        assert parse(call["due_at"]) == received + dt.timedelta(minutes=60)
        assert call["patient"]["phone"] == "0254000000"
        assert call["patient"]["family_name"] == "Durand"
        assert call["intent_without_sas"] == "urgences"
        assert call["late"] is False

    async def test_without_priority_the_p3_delay_applies(self, client, auth):
        received = now()
        call = await create_call(client, auth("operator"), received_at=iso(received))
        assert call["priority"] is None
        assert parse(call["due_at"]) == received + dt.timedelta(minutes=180)

    async def test_the_territory_sets_its_own_delays(self, client, auth):
        body = {"priority_delays": {"P1": 15, "P2": 45, "P3": 120}}
        assert (await client.patch("/v1/territories/36", json=body, headers=auth("admin"))).status_code == 200
        received = now()
        call = await create_call(client, auth("operator"), priority="P1", received_at=iso(received))
        assert parse(call["due_at"]) == received + dt.timedelta(minutes=15)

    async def test_received_at_defaults_to_now(self, client, auth):
        call = await create_call(client, auth("operator"))
        assert abs(parse(call["received_at"]) - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=30)

    async def test_a_received_at_in_the_future_is_422_and_nothing_is_written(self, client, auth):
        body = {"territory_code": "36", "channel": "15", "received_at": iso(now() + dt.timedelta(hours=1))}
        response = await client.post("/v1/calls", json=body, headers=auth("operator"))
        assert response.status_code == 422
        assert response.json()["field"] == "received_at"
        assert (await client.get("/v1/calls?territory=36", headers=auth("operator"))).json() == []

    async def test_a_received_at_before_2000_is_422(self, client, auth):
        body = {"territory_code": "36", "channel": "15", "received_at": "0001-01-01T00:00:00+14:00"}
        response = await client.post("/v1/calls", json=body, headers=auth("operator"))
        assert response.status_code == 422 and response.json()["field"] == "received_at"

    async def test_a_nul_character_is_422_not_a_database_error(self, client, auth):
        body = {"territory_code": "36", "channel": "15", "reason": "fi\u0000vre"}
        response = await client.post("/v1/calls", json=body, headers=auth("operator"))
        assert response.status_code == 422 and response.json()["field"] == "reason"

    async def test_a_lone_surrogate_is_422_not_a_database_error(self, client, auth):
        content = '{"territory_code": "36", "channel": "15", "patient": {"family_name": "D\\ud800"}}'
        response = await client.post("/v1/calls", content=content,
                                     headers={**auth("operator"), "Content-Type": "application/json"})
        assert response.status_code == 422 and response.json()["field"] == "patient.family_name"

    async def test_a_small_clock_skew_is_accepted(self, client, auth):
        call = await create_call(client, auth("operator"), received_at=iso(now() + dt.timedelta(seconds=30)))
        assert call["status"] == "waiting"

    async def test_an_unknown_channel_is_422_naming_the_field(self, client, auth):
        body = {"territory_code": "36", "channel": "112"}
        response = await client.post("/v1/calls", json=body, headers=auth("operator"))
        assert response.status_code == 422
        assert response.json()["field"] == "channel"

    async def test_a_received_at_without_offset_is_422(self, client, auth):
        body = {"territory_code": "36", "channel": "15", "received_at": "2026-01-01T10:00:00"}
        response = await client.post("/v1/calls", json=body, headers=auth("operator"))
        assert response.status_code == 422
        assert response.json()["field"] == "received_at"

    async def test_an_unknown_patient_field_is_422(self, client, auth):
        body = {"territory_code": "36", "channel": "15", "patient": {"fax": "0254000000"}}
        response = await client.post("/v1/calls", json=body, headers=auth("operator"))
        assert response.status_code == 422
        assert response.json()["field"] == "patient.fax"

    async def test_a_malformed_phone_is_422(self, client, auth):
        body = {"territory_code": "36", "channel": "15", "patient": {"phone": "call me"}}
        response = await client.post("/v1/calls", json=body, headers=auth("operator"))
        assert response.status_code == 422
        assert response.json()["field"] == "patient.phone"

    async def test_another_territory_is_404_naming_the_territory(self, client, auth):
        body = {"territory_code": "18", "channel": "15"}
        response = await client.post("/v1/calls", json=body, headers=auth("operator", ["36"]))
        assert response.status_code == 404
        assert response.json()["field"] == "territory_code"

    async def test_analysts_and_ed_staff_cannot_enter_calls(self, client, auth):
        body = {"territory_code": "36", "channel": "15"}
        for role in ("analyst", "urgences"):
            assert (await client.post("/v1/calls", json=body, headers=auth(role))).status_code == 403


class TestQueue:
    async def test_the_queue_is_ordered_by_due_time_and_flags_late_calls(self, client, auth):
        operator = auth("operator")
        fresh_p3 = await create_call(client, operator, priority="P3")
        late_p1 = await create_call(client, operator, priority="P1",
                                    received_at=iso(now() - dt.timedelta(hours=2)))
        fresh_p1 = await create_call(client, operator, priority="P1")
        rows = (await client.get("/v1/calls?territory=36&status=waiting", headers=operator)).json()
        assert [r["id"] for r in rows] == [late_p1["id"], fresh_p1["id"], fresh_p3["id"]]
        assert rows[0]["late"] is True and 99 <= rows[0]["minutes_late"] <= 101
        assert rows[1]["late"] is False and rows[1]["minutes_late"] == 0

    async def test_the_queue_carries_no_patient_identity(self, client, auth):
        await create_call(client, auth("operator"))
        rows = (await client.get("/v1/calls", headers=auth("operator"))).json()
        assert len(rows) == 1
        assert "patient" not in rows[0]
        assert "Durand" not in str(rows)

    async def test_the_status_filter_keeps_only_that_status(self, client, auth):
        operator = auth("operator")
        waiting = await create_call(client, operator)
        assigned = await create_call(client, operator)
        await client.post(f"/v1/calls/{assigned['id']}/assign", json={"assigned_to": "dr-x"}, headers=operator)
        rows = (await client.get("/v1/calls?status=waiting", headers=operator)).json()
        assert [r["id"] for r in rows] == [waiting["id"]]
        rows = (await client.get("/v1/calls?status=in_progress", headers=operator)).json()
        assert [r["id"] for r in rows] == [assigned["id"]]

    async def test_an_unknown_status_is_422(self, client, auth):
        response = await client.get("/v1/calls?status=lost", headers=auth("operator"))
        assert response.status_code == 422
        assert response.json()["field"] == "query.status"

    async def test_a_called_back_call_is_no_longer_late(self, client, auth):
        call = await create_call(client, auth("operator"), priority="P1",
                                 received_at=iso(now() - dt.timedelta(hours=2)))
        await client.post(f"/v1/calls/{call['id']}/callback", json={}, headers=auth("regulator"))
        rows = (await client.get("/v1/calls", headers=auth("operator"))).json()
        assert rows[0]["late"] is False


class TestFullFlow:
    async def test_operator_qualifies_then_regulator_calls_back_decides_and_closes(self, client, auth):
        operator = auth("operator", sub="osnp-1")
        regulator = auth("regulator", sub="dr-house")
        call = await create_call(client, operator, priority="P2", intent_without_sas="urgences",
                                 received_at=iso(now() - dt.timedelta(minutes=30)))
        call_id = call["id"]

        assigned = await client.post(f"/v1/calls/{call_id}/assign", json={"assigned_to": "dr-house"},
                                     headers=operator)
        assert assigned.status_code == 200 and assigned.json()["status"] == "in_progress"
        assert assigned.json()["assigned_to"] == "dr-house"

        callback_at = now() - dt.timedelta(minutes=10)
        response = await client.post(f"/v1/calls/{call_id}/callback", json={"at": iso(callback_at)},
                                     headers=regulator)
        assert response.status_code == 201, response.text
        assert response.json()["answered"] is True and response.json()["by_sub"] == "dr-house"

        advice = await client.post(f"/v1/calls/{call_id}/decisions", json={"kind": "advice"}, headers=regulator)
        assert advice.status_code == 201, advice.text
        prescription = await client.post(
            f"/v1/calls/{call_id}/decisions",
            json={"kind": "prescription", "pharmacy": {"name": "Pharmacie de la Gare", "finess": "360000012"}},
            headers=regulator,
        )
        assert prescription.status_code == 201, prescription.text
        assert prescription.json()["pharmacy_finess"] == "360000012"

        closed = await client.post(f"/v1/calls/{call_id}/close", headers=regulator)
        assert closed.status_code == 200 and closed.json()["status"] == "closed"
        assert closed.json()["closed_at"] is not None

        detail = (await client.get(f"/v1/calls/{call_id}", headers=operator)).json()
        assert sorted(d["kind"] for d in detail["decisions"]) == ["advice", "prescription"]
        assert [parse(c["at"]) for c in detail["callbacks"]] == [callback_at]
        assert parse(detail["first_callback_at"]) == callback_at
        assert detail["patient"]["given_name"] == "Louise"
        assert detail["bookings"] == [] and detail["created_by"] == "osnp-1"

    async def test_every_write_on_a_closed_call_is_409(self, client, auth):
        regulator = auth("regulator")
        call = await create_call(client, auth("operator"))
        await client.post(f"/v1/calls/{call['id']}/decisions", json={"kind": "advice"}, headers=regulator)
        assert (await client.post(f"/v1/calls/{call['id']}/close", headers=regulator)).status_code == 200
        writes = [
            ("decisions", {"kind": "advice"}), ("callback", {}), ("assign", {"assigned_to": "dr-x"}), ("close", None),
        ]
        for path, body in writes:
            response = await client.post(f"/v1/calls/{call['id']}/{path}", json=body, headers=regulator)
            assert response.status_code == 409, path
            assert response.json()["error"] == "Conflict"
        detail = (await client.get(f"/v1/calls/{call['id']}", headers=regulator)).json()
        assert len(detail["decisions"]) == 1 and detail["callbacks"] == []

    async def test_a_call_without_decision_cannot_be_closed(self, client, auth):
        call = await create_call(client, auth("operator"))
        response = await client.post(f"/v1/calls/{call['id']}/close", headers=auth("regulator"))
        assert response.status_code == 409
        assert "no decision" in response.json()["detail"]
        detail = (await client.get(f"/v1/calls/{call['id']}", headers=auth("regulator"))).json()
        assert detail["status"] == "waiting" and detail["closed_at"] is None

    async def test_a_first_decision_starts_the_call(self, client, auth):
        call = await create_call(client, auth("operator"))
        await client.post(f"/v1/calls/{call['id']}/decisions", json={"kind": "advice"}, headers=auth("regulator"))
        detail = (await client.get(f"/v1/calls/{call['id']}", headers=auth("regulator"))).json()
        assert detail["status"] == "in_progress"

    async def test_a_regulator_assigns_the_call_to_themself_by_default(self, client, auth):
        call = await create_call(client, auth("operator"))
        response = await client.post(f"/v1/calls/{call['id']}/assign", headers=auth("regulator", sub="dr-a"))
        assert response.status_code == 200 and response.json()["assigned_to"] == "dr-a"

    async def test_an_operator_must_name_the_regulator(self, client, auth):
        call = await create_call(client, auth("operator"))
        response = await client.post(f"/v1/calls/{call['id']}/assign", json={}, headers=auth("operator"))
        assert response.status_code == 422 and response.json()["field"] == "assigned_to"


    async def test_taking_a_call_someone_else_has_must_be_said_and_names_the_holder(self, client, auth):
        call = await create_call(client, auth("operator"))
        url = f"/v1/calls/{call['id']}/assign"
        await client.post("/v1/users", json={"subject": "dr-house", "display_name": "Dr Gregory House",
                                             "role": "regulator", "territories": ["36"]}, headers=auth("admin"))
        first = await client.post(url, headers=auth("regulator", sub="dr-house"))
        assert first.json()["assigned_name"] == "Dr Gregory House"
        again = await client.post(url, headers=auth("regulator", sub="dr-house"))  # his own: no question
        assert again.status_code == 200

        refused = await client.post(url, headers=auth("regulator", sub="dr-wilson"))
        assert refused.status_code == 409
        assert refused.json() | {"detail": None} == {
            "error": "CallHeld", "detail": None, "field": "take_over", "holder": "dr-house",
            "holder_name": "Dr Gregory House"}
        detail = (await client.get(f"/v1/calls/{call['id']}", headers=auth("regulator"))).json()
        assert detail["assigned_to"] == "dr-house"  # nothing changed

        taken = await client.post(url, json={"take_over": True}, headers=auth("regulator", sub="dr-wilson"))
        assert taken.status_code == 200 and taken.json()["assigned_to"] == "dr-wilson"
        assert taken.json()["assigned_name"] == "dr-wilson"  # not in the registry: the subject
        audit = (await client.get("/v1/audit", params={"call_id": call["id"]}, headers=auth("admin"))).json()
        over = [e for e in audit if e["action"] == "call.taken_over"]
        assert over and over[0]["detail"] == {"from": "dr-house", "to": "dr-wilson"}

        # An operator hands it to a colleague by subject: the registry names him.
        handed = await client.post(url, json={"assigned_to": "dr-house", "take_over": True}, headers=auth("operator"))
        assert handed.json()["assigned_name"] == "Dr Gregory House"

class TestCallbacks:
    async def test_every_attempt_is_kept_and_the_first_sets_first_callback_at(self, client, auth):
        regulator = auth("regulator")
        received = now() - dt.timedelta(hours=1)
        call = await create_call(client, auth("operator"), received_at=iso(received))
        first, second = received + dt.timedelta(minutes=20), received + dt.timedelta(minutes=40)
        for at, answered in ((first, False), (second, False)):
            response = await client.post(f"/v1/calls/{call['id']}/callback",
                                         json={"at": iso(at), "answered": answered}, headers=regulator)
            assert response.status_code == 201
        other = await client.post(f"/v1/calls/{call['id']}/decisions",
                                  json={"kind": "other", "other_reason": "no_answer"}, headers=regulator)
        assert other.status_code == 201
        detail = (await client.get(f"/v1/calls/{call['id']}", headers=regulator)).json()
        assert [(parse(c["at"]), c["answered"]) for c in detail["callbacks"]] == [(first, False), (second, False)]
        assert parse(detail["first_callback_at"]) == first
        assert detail["status"] == "in_progress"
        assert detail["decisions"][0]["other_reason"] == "no_answer"

    async def test_an_attempt_entered_late_but_earlier_moves_first_callback_at(self, client, auth):
        regulator = auth("regulator")
        received = now() - dt.timedelta(hours=1)
        call = await create_call(client, auth("operator"), received_at=iso(received))
        later, earlier = received + dt.timedelta(minutes=40), received + dt.timedelta(minutes=5)
        await client.post(f"/v1/calls/{call['id']}/callback", json={"at": iso(later)}, headers=regulator)
        await client.post(f"/v1/calls/{call['id']}/callback", json={"at": iso(earlier)}, headers=regulator)
        detail = (await client.get(f"/v1/calls/{call['id']}", headers=regulator)).json()
        assert parse(detail["first_callback_at"]) == earlier

    async def test_a_callback_before_the_call_was_received_is_422_and_nothing_is_written(self, client, auth):
        received = now() - dt.timedelta(minutes=30)
        call = await create_call(client, auth("operator"), received_at=iso(received))
        response = await client.post(f"/v1/calls/{call['id']}/callback",
                                     json={"at": iso(received - dt.timedelta(minutes=1))}, headers=auth("regulator"))
        assert response.status_code == 422 and response.json()["field"] == "at"
        detail = (await client.get(f"/v1/calls/{call['id']}", headers=auth("regulator"))).json()
        assert detail["callbacks"] == [] and detail["first_callback_at"] is None and detail["status"] == "waiting"

    async def test_a_callback_in_the_future_is_422(self, client, auth):
        call = await create_call(client, auth("operator"))
        response = await client.post(f"/v1/calls/{call['id']}/callback",
                                     json={"at": iso(now() + dt.timedelta(hours=1))}, headers=auth("regulator"))
        assert response.status_code == 422 and response.json()["field"] == "at"

    async def test_operators_do_not_record_callbacks(self, client, auth):
        call = await create_call(client, auth("operator"))
        response = await client.post(f"/v1/calls/{call['id']}/callback", json={}, headers=auth("operator"))
        assert response.status_code == 403


class TestDecisions:
    async def test_other_without_its_reason_is_422_naming_other_reason(self, client, auth):
        call = await create_call(client, auth("operator"))
        response = await client.post(f"/v1/calls/{call['id']}/decisions", json={"kind": "other"},
                                     headers=auth("regulator"))
        assert response.status_code == 422 and response.json()["field"] == "other_reason"
        detail = (await client.get(f"/v1/calls/{call['id']}", headers=auth("regulator"))).json()
        assert detail["decisions"] == [] and detail["status"] == "waiting"

    async def test_a_reason_on_advice_is_422(self, client, auth):
        call = await create_call(client, auth("operator"))
        response = await client.post(f"/v1/calls/{call['id']}/decisions",
                                     json={"kind": "advice", "other_reason": "no_answer"}, headers=auth("regulator"))
        assert response.status_code == 422 and response.json()["field"] == "other_reason"

    async def test_an_unknown_kind_or_reason_is_422_naming_the_field(self, client, auth):
        call = await create_call(client, auth("operator"))
        url = f"/v1/calls/{call['id']}/decisions"
        response = await client.post(url, json={"kind": "teleport"}, headers=auth("regulator"))
        assert response.status_code == 422 and response.json()["field"] == "kind"
        response = await client.post(url, json={"kind": "other", "other_reason": "bored"}, headers=auth("regulator"))
        assert response.status_code == 422 and response.json()["field"] == "other_reason"

    async def test_a_pharmacy_belongs_to_a_prescription_and_its_finess_is_checked(self, client, auth):
        call = await create_call(client, auth("operator"))
        url = f"/v1/calls/{call['id']}/decisions"
        response = await client.post(url, json={"kind": "advice", "pharmacy": {"name": "P"}}, headers=auth("regulator"))
        assert response.status_code == 422 and response.json()["field"] == "pharmacy"
        body = {"kind": "prescription", "pharmacy": {"name": "P", "finess": "12"}}
        response = await client.post(url, json=body, headers=auth("regulator"))
        assert response.status_code == 422 and response.json()["field"] == "pharmacy.finess"

    async def test_a_slot_decision_needs_a_booking_of_this_call(self, client, connection, auth):
        regulator = auth("regulator")
        call = await create_call(client, auth("operator"))
        other_call = await create_call(client, auth("operator"))
        url = f"/v1/calls/{call['id']}/decisions"
        response = await client.post(url, json={"kind": "slot"}, headers=regulator)
        assert response.status_code == 422 and response.json()["field"] == "booking_id"
        foreign = await make_booking(client, connection, auth, other_call["id"])
        response = await client.post(url, json={"kind": "slot", "booking_id": foreign}, headers=regulator)
        assert response.status_code == 422 and response.json()["field"] == "booking_id"
        assert (await client.get(f"/v1/calls/{call['id']}", headers=regulator)).json()["decisions"] == []

    async def test_a_slot_decision_with_its_booking_is_recorded_once(self, client, connection, auth):
        regulator = auth("regulator")
        call = await create_call(client, auth("operator"))
        booking_id = await make_booking(client, connection, auth, call["id"])
        url = f"/v1/calls/{call['id']}/decisions"
        response = await client.post(url, json={"kind": "slot", "booking_id": booking_id}, headers=regulator)
        assert response.status_code == 201, response.text
        again = await client.post(url, json={"kind": "slot", "booking_id": booking_id}, headers=regulator)
        assert again.status_code == 409
        detail = (await client.get(f"/v1/calls/{call['id']}", headers=regulator)).json()
        assert [d["booking_id"] for d in detail["decisions"]] == [booking_id]
        assert [b["id"] for b in detail["bookings"]] == [booking_id]
        assert detail["bookings"][0]["status"] == "active"

    async def test_a_booking_id_on_advice_is_422(self, client, connection, auth):
        call = await create_call(client, auth("operator"))
        booking_id = await make_booking(client, connection, auth, call["id"])
        response = await client.post(f"/v1/calls/{call['id']}/decisions",
                                     json={"kind": "advice", "booking_id": booking_id}, headers=auth("regulator"))
        assert response.status_code == 422 and response.json()["field"] == "booking_id"

    async def test_operators_do_not_decide(self, client, auth):
        call = await create_call(client, auth("operator"))
        response = await client.post(f"/v1/calls/{call['id']}/decisions", json={"kind": "advice"},
                                     headers=auth("operator"))
        assert response.status_code == 403


class TestTerritoryScoping:
    async def test_an_operator_of_the_cher_can_neither_read_nor_write_a_call_of_the_indre(self, client, auth):
        call = await create_call(client, auth("operator", ["36"]))
        cher = auth("regulator", ["18"])
        assert (await client.get(f"/v1/calls/{call['id']}", headers=cher)).status_code == 404
        for path, body in (("decisions", {"kind": "advice"}), ("callback", {}), ("assign", {}), ("close", None)):
            response = await client.post(f"/v1/calls/{call['id']}/{path}", json=body, headers=cher)
            assert response.status_code == 404, path
        assert (await client.get("/v1/calls", headers=cher)).json() == []
        assert (await client.get("/v1/calls?territory=36", headers=cher)).status_code == 404
        detail = (await client.get(f"/v1/calls/{call['id']}", headers=auth("regulator", ["36"]))).json()
        assert detail["decisions"] == [] and detail["status"] == "waiting"

    async def test_a_departement_user_sees_the_cpts_under_it_and_a_cpts_user_only_its_own(self, client, auth):
        admin = auth("admin", [])
        await create_cpts(client, admin, "36-a")
        await create_cpts(client, admin, "36-b")
        in_a = await create_call(client, auth("operator", ["36-a"]), territory="36-a")
        in_b = await create_call(client, auth("operator", ["36-b"]), territory="36-b")
        departement = auth("operator", ["36"])
        assert (await client.get(f"/v1/calls/{in_a['id']}", headers=departement)).status_code == 200
        listed = (await client.get("/v1/calls?territory=36", headers=departement)).json()
        assert {r["id"] for r in listed} == {in_a["id"], in_b["id"]}
        cpts_a = auth("operator", ["36-a"])
        assert (await client.get(f"/v1/calls/{in_b['id']}", headers=cpts_a)).status_code == 404
        assert [r["id"] for r in (await client.get("/v1/calls", headers=cpts_a)).json()] == [in_a["id"]]

    async def test_analysts_never_read_a_call(self, client, auth):
        call = await create_call(client, auth("operator"))
        assert (await client.get(f"/v1/calls/{call['id']}", headers=auth("analyst"))).status_code == 403
        assert (await client.get("/v1/calls", headers=auth("analyst"))).status_code == 403

    async def test_an_unknown_call_is_404(self, client, auth):
        response = await client.get("/v1/calls/00000000-0000-0000-0000-000000000000", headers=auth("operator"))
        assert response.status_code == 404


class TestPatientDataStaysOutOfLogs:
    async def test_no_name_or_phone_in_the_log_lines(self, client, auth):
        with capture_logs() as entries:
            call = await create_call(client, auth("operator"))
            regulator = auth("regulator")
            await client.get(f"/v1/calls/{call['id']}", headers=regulator)
            await client.post(f"/v1/calls/{call['id']}/callback", json={}, headers=regulator)
            await client.post(f"/v1/calls/{call['id']}/decisions", json={"kind": "advice"}, headers=regulator)
            await client.post(f"/v1/calls/{call['id']}/close", headers=regulator)
        logs = str(entries)
        assert {"call.created", "call.callback", "call.decision", "call.closed"} <= {e["event"] for e in entries}
        assert call["id"] in logs
        for secret in (PATIENT["family_name"], PATIENT["given_name"], "0254000000", "02 54 00 00 00"):
            assert secret not in logs


class TestFindTodaysCalls:
    async def test_by_name_or_phone_each_found_call_audited(self, client, auth, connection):
        from sqlalchemy import text as sql

        operator = auth("operator", ["36"], sub="osnp-find")
        for family, phone in (("Durand", "0254111111"), ("Martin", "0254222222")):
            response = await client.post("/v1/calls", json={"territory_code": "36", "channel": "15",
                                          "patient": {"family_name": family, "phone": phone}}, headers=operator)
            assert response.status_code == 201
        found = await client.post("/v1/calls/find", json={"q": "dur"}, headers=operator)
        assert found.status_code == 200, found.text
        assert [c["patient"]["family_name"] for c in found.json()] == ["Durand"]
        by_phone = await client.post("/v1/calls/find", json={"q": "02 54 22"}, headers=operator)
        assert [c["patient"]["family_name"] for c in by_phone.json()] == ["Martin"]
        audited = (await connection.execute(sql(
            "SELECT count(*) FROM audit_log WHERE action = 'call.found' AND actor_sub = 'osnp-find'"))).scalar()
        assert audited == 2
        assert (await client.post("/v1/calls/find", json={"q": "dur"}, headers=auth("operator", ["18"]))).json() == []
        short = await client.post("/v1/calls/find", json={"q": "d1"}, headers=operator)
        assert short.status_code == 422 and short.json()["field"] == "q"
        analyst = await client.post("/v1/calls/find", json={"q": "dur"}, headers=auth("analyst", ["36"]))
        assert analyst.status_code == 403
