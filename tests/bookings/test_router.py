"""Hold, book, cancel and post outcomes through the HTTP API."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import text

from app.identity import crypto
from app.identity.sealing import present
from tests.bookings.helpers import make_call, make_slot, move_slot_to_the_past, now, scalar, world
from tests.support.factories import REDIRECTED


async def book(client, headers, slot_id, call_id=None, key=None, **extra):
    body = {"slot_id": slot_id, **({"call_id": call_id} if call_id else {}), **extra}
    hdrs = {**headers, **({"Idempotency-Key": key} if key else {})}
    return await client.post("/v1/bookings", json=body, headers=hdrs)


async def search_ids(client, auth) -> list[str]:
    response = await client.get("/v1/slots/search", params={"territory": "36"}, headers=auth("operator"))
    return [i["id"] for i in response.json()["items"]]


class TestHold:
    async def test_a_hold_lasts_the_configured_minutes_and_hides_the_slot(self, client, auth, connection, settings):
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        call = await make_call(client, auth)
        response = await client.post(f"/v1/slots/{slot}/hold", json={"call_id": call["id"]}, headers=auth("operator"))
        assert response.status_code == 200, response.text
        held_until = dt.datetime.fromisoformat(response.json()["held_until"])
        expected = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=settings.hold_minutes)
        assert abs((held_until - expected).total_seconds()) < 60
        assert response.json()["call_id"] == call["id"]
        assert slot not in await search_ids(client, auth)

    async def test_another_call_cannot_hold_or_book_a_held_slot_but_the_holder_can_book_it(
        self, client, auth, connection
    ):
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        mine, theirs = await make_call(client, auth), await make_call(client, auth)
        headers = auth("regulator")
        held = await client.post(f"/v1/slots/{slot}/hold", json={"call_id": mine["id"]}, headers=headers)
        assert held.status_code == 200
        again = await client.post(f"/v1/slots/{slot}/hold", json={"call_id": theirs["id"]}, headers=headers)
        assert again.status_code == 409 and again.json()["error"] == "SlotTaken"
        assert "held" in again.json()["detail"]
        taken = await book(client, headers, slot, theirs["id"])
        assert taken.status_code == 409 and taken.json()["error"] == "SlotTaken"
        renewed = await client.post(f"/v1/slots/{slot}/hold", json={"call_id": mine["id"]}, headers=headers)
        assert renewed.status_code == 200
        booked = await book(client, headers, slot, mine["id"])
        assert booked.status_code == 201, booked.text
        assert await scalar(connection, "SELECT held_until FROM slots WHERE id = :id", id=slot) is None

    async def test_a_lapsed_hold_frees_the_slot_without_any_sweeper(self, client, auth, connection):
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        first, second = await make_call(client, auth), await make_call(client, auth)
        await client.post(f"/v1/slots/{slot}/hold", json={"call_id": first["id"]}, headers=auth("operator"))
        await connection.execute(text("UPDATE slots SET held_until = now() - interval '1 second' WHERE id = :id"),
                                 {"id": slot})
        assert slot in await search_ids(client, auth)
        assert (await book(client, auth("operator"), slot, second["id"])).status_code == 201

    async def test_the_holder_releases_the_hold_and_no_one_else_can(self, client, auth, connection):
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        holder, other = await make_call(client, auth), await make_call(client, auth)
        headers = auth("operator")
        await client.post(f"/v1/slots/{slot}/hold", json={"call_id": holder["id"]}, headers=headers)
        refused = await client.delete(f"/v1/slots/{slot}/hold", params={"call_id": other["id"]}, headers=headers)
        assert refused.status_code == 409 and refused.json()["error"] == "NotHeld"
        released = await client.delete(f"/v1/slots/{slot}/hold", params={"call_id": holder["id"]}, headers=headers)
        assert released.status_code == 204
        assert slot in await search_ids(client, auth)

    async def test_unknown_or_foreign_slots_and_calls_are_404_and_closed_calls_409(self, client, auth, connection):
        w = await world(client, auth)
        w18 = await world(client, auth, territory="18")
        slot, foreign_slot = await make_slot(client, auth, w), await make_slot(client, auth, w18)
        call, foreign_call = await make_call(client, auth), await make_call(client, auth, territory="18")
        headers = auth("operator", ["36"])
        for unseen in (uuid.uuid4(), foreign_slot):  # the slot is the path's: no body field names it
            response = await client.post(f"/v1/slots/{unseen}/hold", json={"call_id": call["id"]}, headers=headers)
            assert response.status_code == 404 and response.json()["field"] is None, response.text
        response = await client.post(f"/v1/slots/{slot}/hold", json={"call_id": foreign_call["id"]}, headers=headers)
        assert response.status_code == 404 and response.json()["field"] == "call_id"
        await connection.execute(text("UPDATE calls SET status = 'closed' WHERE id = :id"), {"id": call["id"]})
        closed = await client.post(f"/v1/slots/{slot}/hold", json={"call_id": call["id"]}, headers=headers)
        assert closed.status_code == 409 and closed.json()["error"] == "CallClosed"
        bad = await client.post(f"/v1/slots/{slot}/hold", json={"call_id": "nope"}, headers=headers)
        assert bad.status_code == 422 and bad.json()["field"] == "call_id"
        assert (await client.post(f"/v1/slots/{slot}/hold", json={"call_id": call["id"]},
                                  headers=auth("urgences"))).status_code == 403


class TestBooking:
    async def test_a_regulator_books_and_the_call_gets_its_slot_decision_in_the_same_transaction(
        self, client, auth, connection
    ):
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        call = await make_call(client, auth)
        response = await book(client, auth("regulator", sub="dr-house"), slot, call["id"])
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["slot_id"] == slot and body["call_id"] == call["id"] and body["status"] == "active"
        assert body["created_by"] == "dr-house" and body["slot"]["practitioner_id"] == w.practitioner_id
        decision = (await connection.execute(
            text("SELECT kind, booking_id, created_by FROM decisions WHERE call_id = :c"), {"c": call["id"]}
        )).one()
        assert decision.kind == "slot" and str(decision.booking_id) == body["id"] and decision.created_by == "dr-house"
        assert await scalar(connection, "SELECT status FROM calls WHERE id = :id", id=call["id"]) == "in_progress"
        assert await scalar(connection, "SELECT status FROM slots WHERE id = :id", id=slot) == "booked"
        event = (await connection.execute(
            text("SELECT kind, practitioner_id, payload FROM outbox_events")
        )).one()
        assert event.kind == "booking.created" and str(event.practitioner_id) == w.practitioner_id
        assert event.payload["booking_id"] == body["id"] and event.payload["slot_id"] == slot
        assert event.payload["site"]["address"] == "1 place de la République"
        assert present(crypto.ring(), event.payload)["call"] == {"channel": "15", "reason": "fièvre depuis deux jours"}
        assert "fièvre" not in str(event.payload)  # sealed at rest
        assert present(crypto.ring(), event.payload)["patient"] == {"initials": "LD", "birth_year": 1984, "sex": "F",
                                            "age": dt.date.today().year - 1984}
        assert "Durand" not in str(event.payload) and "0254000000" not in str(event.payload)
        read = await client.get(f"/v1/bookings/{body['id']}", headers=auth("operator"))
        assert read.status_code == 200 and read.json() == body

    async def test_a_booked_slot_is_409_slot_taken_and_nothing_is_written(self, client, auth, connection):
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        first, second = await make_call(client, auth), await make_call(client, auth)
        assert (await book(client, auth("operator"), slot, first["id"])).status_code == 201
        response = await book(client, auth("operator"), slot, second["id"])
        assert response.status_code == 409
        assert response.json()["error"] == "SlotTaken" and "booked" in response.json()["detail"]
        assert await scalar(connection, "SELECT count(*) FROM bookings") == 1
        assert await scalar(connection, "SELECT count(*) FROM decisions WHERE call_id = :c", c=second["id"]) == 0
        assert await scalar(connection, "SELECT status FROM calls WHERE id = :c", c=second["id"]) == "waiting"

    async def test_withdrawn_and_started_slots_cannot_be_booked(self, client, auth, connection):
        w = await world(client, auth)
        withdrawn = await make_slot(client, auth, w, start=now() + dt.timedelta(hours=3))
        started = await make_slot(client, auth, w, start=now() + dt.timedelta(hours=5))
        await connection.execute(text("UPDATE slots SET status = 'withdrawn' WHERE id = :id"), {"id": withdrawn})
        await move_slot_to_the_past(connection, started, hours=0.1)
        call = await make_call(client, auth)
        for slot, why in ((withdrawn, "withdrawn"), (started, "started")):
            response = await book(client, auth("operator"), slot, call["id"])
            assert response.status_code == 409 and why in response.json()["detail"]

    async def test_the_call_must_be_visible_and_open_and_the_slot_visible(self, client, auth, connection):
        w, w18 = await world(client, auth), await world(client, auth, territory="18")
        slot, foreign_slot = await make_slot(client, auth, w), await make_slot(client, auth, w18)
        call, foreign_call = await make_call(client, auth), await make_call(client, auth, territory="18")
        headers = auth("regulator", ["36"])
        assert (await book(client, headers, slot, foreign_call["id"])).status_code == 404
        assert (await book(client, headers, foreign_slot, call["id"])).status_code == 404
        assert (await book(client, headers, str(uuid.uuid4()), call["id"])).status_code == 404
        assert await scalar(connection, "SELECT status FROM slots WHERE id = :id", id=foreign_slot) == "free"
        await connection.execute(text("UPDATE calls SET status = 'closed' WHERE id = :id"), {"id": call["id"]})
        closed = await book(client, headers, slot, call["id"])
        assert closed.status_code == 409 and closed.json()["error"] == "CallClosed"
        assert await scalar(connection, "SELECT count(*) FROM bookings") == 0

    async def test_bad_payloads_are_422_naming_the_field(self, client, auth, connection):
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        call = await make_call(client, auth)
        headers = auth("operator")
        no_call = await book(client, headers, slot)
        assert no_call.status_code == 422 and no_call.json()["field"] == "call_id"
        both = await book(client, headers, slot, call["id"], patient={**REDIRECTED, "birth_year": 1990})
        assert both.status_code == 422
        unknown = await book(client, headers, slot, call["id"], colour="red")
        assert unknown.status_code == 422 and unknown.json()["field"] == "colour"
        bad_slot = await client.post("/v1/bookings", json={"slot_id": "x", "call_id": call["id"]}, headers=headers)
        assert bad_slot.status_code == 422 and bad_slot.json()["field"] == "slot_id"
        too_long = await book(client, headers, slot, call["id"], key="k" * 201)
        assert too_long.status_code == 422 and "Idempotency-Key" in too_long.json()["field"]
        assert (await book(client, auth("analyst"), slot, call["id"])).status_code == 403
        assert await scalar(connection, "SELECT count(*) FROM bookings") == 0


class TestUrgencesRedirection:
    async def test_an_ed_nurse_books_for_a_patient_and_the_urgences_call_is_created(self, client, auth, connection):
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        body = {"patient": {"family_name": "Petit", "given_name": "Jules", "birth_year": 2019, "sex": "M",
                            "phone": "0611223344"}, "reason": "otite, vu par l'IOA"}
        response = await book(client, auth("urgences", ["36"], sub="ioa-chateauroux"), slot, **body)
        assert response.status_code == 201, response.text
        call = (await connection.execute(text("SELECT * FROM calls WHERE id = :id"),
                                         {"id": response.json()["call_id"]})).mappings().one()
        assert call["channel"] == "urgences" and call["territory_code"] == "36" and call["status"] == "in_progress"
        assert call["source"] == "live" and call["created_by"] == "ioa-chateauroux"
        # Made like any call: due within its territory's delay for no priority (P3's, 180 min in 36).
        assert call["due_at"] - call["received_at"] == dt.timedelta(minutes=180)
        ring = crypto.ring()
        assert ring.open(call["patient_family_name"], "patient_family_name") == "Petit" != call["patient_family_name"]
        assert ring.open(call["reason"], "reason") == "otite, vu par l'IOA"
        assert await scalar(connection, "SELECT kind FROM decisions WHERE call_id = :c", c=call["id"]) == "slot"
        payload = await scalar(connection, "SELECT payload FROM outbox_events")
        assert payload["call"]["channel"] == "urgences" and present(ring, payload)["patient"]["initials"] == "JP"
        assert "Petit" not in str(payload) and "0611223344" not in str(payload)

    async def test_a_taken_slot_leaves_no_orphan_call(self, client, auth, connection):
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        nurse = auth("urgences")
        assert (await book(client, nurse, slot, patient={**REDIRECTED, "birth_year": 1950})).status_code == 201
        assert (await book(client, nurse, slot, patient={**REDIRECTED, "birth_year": 1951})).status_code == 409
        assert await scalar(connection, "SELECT count(*) FROM calls WHERE channel = 'urgences'") == 1


class TestAnswerFromSql:
    async def test_instants_written_by_postgresql_read_exactly_as_the_api_writes_them(self, connection):
        from pydantic import TypeAdapter

        from app.bookings.repository import _instant

        paris = dt.timezone(dt.timedelta(hours=1))
        values = [
            dt.datetime(2026, 3, 29, 1, 0, tzinfo=dt.UTC), dt.datetime(2026, 3, 29, 1, 0, 0, 1, tzinfo=dt.UTC),
            dt.datetime(2026, 10, 25, 2, 59, 59, 999999, tzinfo=paris), dt.datetime(2028, 2, 29, 23, 0, 0, 500000,
                                                                                   tzinfo=dt.UTC),
        ]
        written = TypeAdapter(dt.datetime)
        for value in values:
            got = await scalar(connection, f"SELECT {_instant('CAST(:t AS timestamptz)')}", t=value)
            assert got == written.dump_python(value.astimezone(dt.UTC), mode="json"), value
        assert await scalar(connection, f"SELECT {_instant('CAST(NULL AS timestamptz)')}") is None

    async def test_the_booking_answer_is_the_booking_as_it_reads_back(self, client, auth):
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        call = await make_call(client, auth)
        headers = auth("regulator", sub="dr-read")
        first = await book(client, headers, slot, call["id"], key="read-1")
        assert first.status_code == 201, first.text
        read = await client.get(f"/v1/bookings/{first.json()['id']}", headers=headers)
        assert read.status_code == 200 and read.json() == first.json()


class TestIdempotency:
    async def test_the_same_key_and_body_give_the_first_answer_again(self, client, auth, connection):
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        call = await make_call(client, auth)
        headers = auth("operator", sub="osnp-1")
        first = await book(client, headers, slot, call["id"], key="abc-1")
        again = await book(client, headers, slot, call["id"], key="abc-1")
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
        assert await scalar(connection, "SELECT count(*) FROM bookings") == 1
        assert await scalar(connection, "SELECT count(*) FROM outbox_events") == 1

    async def test_the_same_key_with_another_body_is_422(self, client, auth, connection):
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        other_slot = await make_slot(client, auth, w, start=now() + dt.timedelta(hours=5))
        call = await make_call(client, auth)
        headers = auth("operator", sub="osnp-1")
        assert (await book(client, headers, slot, call["id"], key="abc-2")).status_code == 201
        response = await book(client, headers, other_slot, call["id"], key="abc-2")
        assert response.status_code == 422 and response.json()["field"] == "Idempotency-Key"
        assert await scalar(connection, "SELECT status FROM slots WHERE id = :id", id=other_slot) == "free"

    async def test_keys_belong_to_their_user(self, client, auth, connection):
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        other_slot = await make_slot(client, auth, w, start=now() + dt.timedelta(hours=5))
        call = await make_call(client, auth)
        assert (await book(client, auth("operator", sub="a"), slot, call["id"], key="same")).status_code == 201
        assert (await book(client, auth("operator", sub="b"), other_slot, call["id"], key="same",
                           also=True)).status_code == 201


class TestCancel:
    async def test_the_booker_cancels_the_slot_is_free_again_and_the_effector_is_told(self, client, auth, connection):
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        call = await make_call(client, auth)
        booker = auth("operator", sub="osnp-7")
        booking = (await book(client, booker, slot, call["id"])).json()
        response = await client.post(f"/v1/bookings/{booking['id']}/cancel", headers=booker)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "cancelled" and response.json()["cancelled_at"]
        assert slot in await search_ids(client, auth)
        kinds = (await connection.execute(text("SELECT kind FROM outbox_events ORDER BY seq"))).scalars().all()
        assert kinds == ["booking.created", "booking.cancelled"]
        again = await client.post(f"/v1/bookings/{booking['id']}/cancel", headers=booker)
        assert again.status_code == 409
        other_call = await make_call(client, auth)
        assert (await book(client, booker, slot, other_call["id"])).status_code == 201

    async def test_who_may_cancel(self, client, auth, connection):
        w, other = await world(client, auth), await world(client, auth)
        slots = [await make_slot(client, auth, w, start=now() + dt.timedelta(hours=2 + i)) for i in range(3)]
        nurse = auth("urgences", sub="ioa")
        ids = [(await book(client, nurse, s, patient={**REDIRECTED, "birth_year": 1970})).json()["id"] for s in slots]
        cancel = lambda i, h: client.post(f"/v1/bookings/{ids[i]}/cancel", headers=h)  # noqa: E731
        assert (await cancel(0, auth("urgences", sub="another-ioa"))).status_code == 403
        assert (await cancel(0, auth("regulator", ["18"]))).status_code == 404
        assert (await cancel(0, auth("effector", practitioner_id=other.practitioner_id))).status_code == 404
        assert (await cancel(0, auth("analyst"))).status_code == 403
        assert (await cancel(0, auth("regulator", ["36"]))).status_code == 200
        assert (await cancel(1, auth("effector", practitioner_id=w.practitioner_id))).status_code == 200
        assert (await cancel(2, auth("urgences", sub="ioa"))).status_code == 200

    async def test_a_cancellation_after_the_start_does_not_free_the_slot(self, client, auth, connection):
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        call = await make_call(client, auth)
        booking = (await book(client, auth("operator"), slot, call["id"])).json()
        await move_slot_to_the_past(connection, slot, hours=0.1)  # time passes: the slot has started
        response = await client.post(f"/v1/bookings/{booking['id']}/cancel", headers=auth("regulator"))
        assert response.status_code == 200
        assert await scalar(connection, "SELECT status FROM slots WHERE id = :id", id=slot) == "booked"


class TestOutcome:
    async def test_the_effector_posts_the_outcome_once_after_the_start(self, client, auth, connection):
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        call = await make_call(client, auth)
        booking = (await book(client, auth("operator"), slot, call["id"])).json()
        effector = auth("effector", practitioner_id=w.practitioner_id)
        url = f"/v1/bookings/{booking['id']}/outcome"
        early = await client.post(url, json={"status": "fulfilled"}, headers=effector)
        assert early.status_code == 409 and "not started" in early.json()["detail"]
        await move_slot_to_the_past(connection, slot)  # time passes: the consultation took place
        done = await client.post(url, json={"status": "noshow", "note": "absent"}, headers=effector)
        assert done.status_code == 200, done.text
        assert done.json()["outcome"] == "noshow" and done.json()["outcome_note"] == "absent"
        assert done.json()["outcome_at"]
        twice = await client.post(url, json={"status": "fulfilled"}, headers=effector)
        assert twice.status_code == 409 and "already" in twice.json()["detail"]
        assert await scalar(connection, "SELECT outcome FROM bookings") == "noshow"

    async def test_the_same_subject_with_another_role_or_territory_neither_reads_nor_cancels(self, client, auth):
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        call = await make_call(client, auth)
        booking = (await book(client, auth("regulator", ["36"], sub="dr-x"), slot, call["id"])).json()
        for stranger in (auth("regulator", ["18"], sub="dr-x"), auth("urgences", ["974"], sub="dr-x"),
                         auth("operator", ["18"], sub="dr-x")):
            assert (await client.get(f"/v1/bookings/{booking['id']}", headers=stranger)).status_code == 404
            cancelled = await client.post(f"/v1/bookings/{booking['id']}/cancel", headers=stranger)
            assert cancelled.status_code == 404
        assert (await client.get(f"/v1/bookings/{booking['id']}", headers=auth("analyst", sub="dr-x"))).status_code \
            == 403
        kept = await client.get(f"/v1/bookings/{booking['id']}", headers=auth("regulator", ["36"], sub="dr-x"))
        assert kept.json()["status"] == "active"

    async def test_someone_elses_or_unknown_booking_is_404_and_other_roles_403(self, client, auth, connection):
        w, other = await world(client, auth), await world(client, auth)
        slot = await make_slot(client, auth, w)
        call = await make_call(client, auth)
        booking = (await book(client, auth("operator"), slot, call["id"])).json()
        await move_slot_to_the_past(connection, slot)
        url = f"/v1/bookings/{booking['id']}/outcome"
        stranger = auth("effector", practitioner_id=other.practitioner_id)
        assert (await client.post(url, json={"status": "fulfilled"}, headers=stranger)).status_code == 404
        unknown = f"/v1/bookings/{uuid.uuid4()}/outcome"
        mine = auth("effector", practitioner_id=w.practitioner_id)
        assert (await client.post(unknown, json={"status": "fulfilled"}, headers=mine)).status_code == 404
        assert (await client.post(url, json={"status": "fulfilled"}, headers=auth("regulator"))).status_code == 403
        bad = await client.post(url, json={"status": "came"}, headers=mine)
        assert bad.status_code == 422 and bad.json()["field"] == "status"

    async def test_a_cancelled_booking_takes_no_outcome(self, client, auth, connection):
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        call = await make_call(client, auth)
        booking = (await book(client, auth("operator"), slot, call["id"])).json()
        await move_slot_to_the_past(connection, slot)
        await client.post(f"/v1/bookings/{booking['id']}/cancel", headers=auth("operator"))
        mine = auth("effector", practitioner_id=w.practitioner_id)
        url = f"/v1/bookings/{booking['id']}/outcome"
        response = await client.post(url, json={"status": "fulfilled"}, headers=mine)
        assert response.status_code == 409 and "cancelled" in response.json()["detail"]
