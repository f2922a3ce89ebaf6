"""A cancelled booking puts its call back in the queue (to_reorient), tells the territory, and stops
counting as an orientation."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import TypeAdapter

from app.calls.live import OpenCall, changes
from app.calls.schemas import CallSummary
from tests.bookings.helpers import make_call, make_slot, now, scalar, world
from tests.stats.helpers import monthly, this_month


async def _book(client, headers, slot, call_id, **extra):
    response = await client.post("/v1/bookings", json={"slot_id": slot, "call_id": call_id, **extra},
                                 headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def _cancel(client, headers, booking_id, reason=None):
    body = {"reason": reason} if reason else None
    return await client.post(f"/v1/bookings/{booking_id}/cancel", json=body, headers=headers)


async def _call(client, auth, call_id):
    response = await client.get(f"/v1/calls/{call_id}", headers=auth("regulator", ["36"]))
    assert response.status_code == 200, response.text
    return response.json()


class TestReorientation:
    async def test_the_effector_cancels_the_call_goes_back_to_the_queue_with_who_and_why(self, client, auth):
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        call = await make_call(client, auth)
        booking = await _book(client, auth("operator", ["36"]), slot, call["id"])
        closed = await client.post(f"/v1/calls/{call['id']}/close", headers=auth("regulator", ["36"]))
        assert closed.status_code == 200 and closed.json()["status"] == "closed"

        effector = auth("effector", practitioner_id=w.practitioner_id, sub="dr-martin")
        response = await _cancel(client, effector, booking["id"], "médecin appelé en visite urgente")
        assert response.status_code == 200, response.text
        assert response.json()["cancel_reason"] == "médecin appelé en visite urgente"

        detail = await _call(client, auth, call["id"])
        assert detail["status"] == "to_reorient" and detail["closed_at"] is None
        assert detail["reorientation"]["by"] == "dr-martin"
        assert detail["reorientation"]["by_role"] == "effector"
        assert detail["reorientation"]["reason"] == "médecin appelé en visite urgente"
        assert detail["reorientation"]["booking_id"] == booking["id"]
        [decision] = detail["decisions"]
        assert decision["kind"] == "slot" and decision["revoked_at"] and decision["revoked_by"] == "dr-martin"

        queue = await client.get("/v1/calls", params={"status": "to_reorient"}, headers=auth("operator", ["36"]))
        assert [c["id"] for c in queue.json()] == [call["id"]]
        # a closed call cannot be closed again without a decision that holds
        again = await client.post(f"/v1/calls/{call['id']}/close", headers=auth("regulator", ["36"]))
        assert again.status_code == 409, again.text

    async def test_a_queue_line_is_the_schema_byte_for_byte_and_says_what_the_call_says(self, client, auth):
        """The queue is written from its columns straight to JSON: a line is exactly what ``CallSummary``
        writes, with the values the call's own page gives (the reorientation and the triage included)."""
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        call = await make_call(client, auth)
        booking = await _book(client, auth("operator", ["36"]), slot, call["id"])
        assert (await _cancel(client, auth("regulator", ["36"]), booking["id"], "empêchement")).status_code == 200
        detail = await _call(client, auth, call["id"])
        lines = TypeAdapter(list[CallSummary])
        for triage in ("false", "true"):
            page = await client.get("/v1/calls", params={"status": "to_reorient", "triage": triage},
                                    headers=auth("regulator", ["36"]))
            assert page.status_code == 200, page.text
            assert page.headers["content-type"] == "application/json"
            assert lines.dump_json(lines.validate_json(page.content)) == page.content
            [line] = page.json()
            assert list(line) == list(CallSummary.model_fields)
            assert {k: v for k, v in line.items() if k != "triage"} == {k: detail[k] for k in line if k != "triage"}
            assert line["reorientation"]["reason"] == "empêchement" and line["late"] is False
            if triage == "true":
                age = dt.datetime.now(dt.UTC).year - 1984
                assert line["triage"] == {"age": age, "sex": "F", "reason_excerpt": "fièvre depuis deux jours"}
            else:
                assert line["triage"] is None

    async def test_a_new_booking_takes_the_call_back_in_progress(self, client, auth):
        w = await world(client, auth)
        first, second = [await make_slot(client, auth, w, start=now() + dt.timedelta(hours=h)) for h in (2, 3)]
        call = await make_call(client, auth)
        operator = auth("operator", ["36"])
        booking = await _book(client, operator, first, call["id"])
        assert (await _cancel(client, auth("regulator", ["36"]), booking["id"])).status_code == 200
        assert (await _call(client, auth, call["id"]))["status"] == "to_reorient"
        await _book(client, operator, second, call["id"])
        detail = await _call(client, auth, call["id"])
        assert detail["status"] == "in_progress"
        assert [d["revoked_at"] is None for d in detail["decisions"]] == [False, True]

    async def test_a_call_keeping_another_active_booking_is_not_reoriented(self, client, auth, connection):
        w = await world(client, auth)
        first, second = [await make_slot(client, auth, w, start=now() + dt.timedelta(hours=h)) for h in (2, 3)]
        call = await make_call(client, auth)
        operator = auth("operator", ["36"])
        one = await _book(client, operator, first, call["id"])
        await _book(client, operator, second, call["id"], also=True)
        assert (await _cancel(client, operator, one["id"])).status_code == 200
        detail = await _call(client, auth, call["id"])
        assert detail["status"] == "in_progress" and detail["reorientation"] is None
        assert await scalar(connection, "SELECT decision_kinds FROM calls WHERE id = :id", id=call["id"]) == 2

    async def test_an_orientation_is_counted_at_its_last_state(self, client, auth):
        """Three calls booked; one cancelled and left, one cancelled and re-booked: two orientations."""
        w = await world(client, auth)
        slots = [await make_slot(client, auth, w, start=now() + dt.timedelta(hours=2 + h)) for h in range(4)]
        calls = [await make_call(client, auth) for _ in range(3)]
        operator = auth("operator", ["36"])
        kept = await _book(client, operator, slots[0], calls[0]["id"])
        left = await _book(client, operator, slots[1], calls[1]["id"])
        replaced = await _book(client, operator, slots[2], calls[2]["id"])
        await _cancel(client, operator, left["id"])
        await _cancel(client, operator, replaced["id"])
        await _book(client, operator, slots[3], calls[2]["id"])
        assert kept
        month = this_month()
        report = await monthly(client, auth("analyst", ["36"]), first=month, last=month)
        assert report["total"]["calls"] == 3
        assert report["total"]["decisions"]["slot"]["count"] == 2
        assert report["total"]["calls_without_decision"] == 1


class TestTheTerritoryIsTold:
    def test_the_live_stream_tells_a_reorientation_and_closing_without_the_patient(self):
        """What the live stream derives from two readings of the open calls (end to end through a served
        app: tests/console/test_live.py)."""
        a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        booking = uuid.uuid4()
        due = dt.datetime(2026, 11, 30, 10, tzinfo=dt.UTC)
        before = {a: OpenCall("36", "in_progress", "dr-x", "Dr X", "P2", due, None),
                  b: OpenCall("36", "waiting", None, None, "P1", due, None)}
        after = {a: OpenCall("36", "to_reorient", "dr-x", "Dr X", "P2", due, booking),
                 c: OpenCall("36", "waiting", None, None, "P3", due, None),
                 uuid.uuid4(): OpenCall("18", "waiting", None, None, None, None, None)}  # newly listened territory
        events = changes(before, after, frozenset({"36"}))
        assert [(e["event"], e["call_id"], e.get("status")) for e in events] == [
            ("call.updated", str(a), "to_reorient"), ("call.to_reorient", str(a), None),
            ("call.created", str(c), "waiting"), ("call.updated", str(b), "closed")]
        assert events[1] == {"event": "call.to_reorient", "call_id": str(a), "territory_code": "36",
                             "booking_id": str(booking)}


class TestUndoADecision:
    async def test_a_mistaken_decision_is_revoked_kept_audited_and_no_longer_counted(self, client, auth, connection):
        call = await make_call(client, auth)
        regulator = auth("regulator", ["36"], sub="dr-undo")
        url = f"/v1/calls/{call['id']}/decisions"
        advice = (await client.post(url, json={"kind": "advice"}, headers=regulator)).json()
        other = (await client.post(url, json={"kind": "other", "other_reason": "no_answer"}, headers=regulator)).json()
        assert await scalar(connection, "SELECT decision_kinds FROM calls WHERE id = :id", id=call["id"]) == 1 | 8
        undone = await client.post(f"{url}/{other['id']}/revoke", json={"reason": "clic par erreur"},
                                   headers=regulator)
        assert undone.status_code == 200, undone.text
        assert undone.json()["revoked_by"] == "dr-undo" and undone.json()["revoked_reason"] == "clic par erreur"
        assert await scalar(connection, "SELECT decision_kinds FROM calls WHERE id = :id", id=call["id"]) == 1
        assert await scalar(connection, "SELECT count(*) FROM audit_log WHERE action = 'decision.revoked'") == 1
        assert (await client.post(f"{url}/{other['id']}/revoke", headers=regulator)).status_code == 409
        assert (await client.post(f"{url}/{advice['id']}/revoke", headers=auth("operator", ["36"]))).status_code == 403
        assert (await client.post(f"{url}/{advice['id']}/revoke", headers=auth("regulator", ["18"]))).status_code == 404

    async def test_an_orientation_with_an_active_booking_is_undone_by_cancelling_it(self, client, auth):
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        call = await make_call(client, auth)
        booking = await _book(client, auth("operator", ["36"]), slot, call["id"])
        detail = await _call(client, auth, call["id"])
        [decision] = detail["decisions"]
        refused = await client.post(f"/v1/calls/{call['id']}/decisions/{decision['id']}/revoke",
                                    headers=auth("regulator", ["36"]))
        assert refused.status_code == 409 and refused.json()["field"] == "decision_id"
        assert booking
