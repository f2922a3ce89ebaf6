"""Answers the document promises, checked one by one where a client meets them."""

from __future__ import annotations

import uuid

from tests.bookings.helpers import make_call, make_slot, world


class TestErrorModel:
    async def test_a_body_that_is_not_json_is_400_on_field_body(self, client, auth):
        for raw in (b"{not json", b"\xff\xfe"):
            response = await client.post("/v1/calls", content=raw, headers={**auth("operator"),
                                                                               "Content-Type": "application/json"})
            assert response.status_code == 400, response.text
            assert response.json() == {"error": "BadRequest", "detail": response.json()["detail"], "field": "body"}

    async def test_a_body_of_another_type_on_a_json_route_is_415_naming_the_content_type(self, client, auth):
        body = b'{"territory_code": "36", "channel": "15", "patient": {"phone": "0611223344"}}'
        for kind in ("text/plain", "application/x-www-form-urlencoded", "text/csv; charset=utf-8"):
            response = await client.post("/v1/calls", content=body, headers={**auth("operator"), "Content-Type": kind})
            assert response.status_code == 415, (kind, response.text)
            assert response.json()["error"] == "UnsupportedMediaType"
            assert response.json()["field"] == "Content-Type"
        as_json = await client.post("/v1/calls", content=body, headers={**auth("operator"),
                                                                       "Content-Type": "application/json"})
        assert as_json.status_code == 201, as_json.text

    async def test_an_offset_past_its_bound_is_refused_before_the_database(self, client, auth):
        for path, role in (("/v1/calls", "operator"), ("/v1/audit", "admin")):
            response = await client.get(path, params={"offset": "1" * 23}, headers=auth(role))
            assert response.status_code == 422 and response.json()["field"] == "query.offset", (path, response.text)

    async def test_every_error_names_its_field_or_says_null(self, client, auth):
        unknown = await client.get(f"/v1/calls/{uuid.uuid4()}", headers=auth("operator"))
        assert unknown.status_code == 404 and unknown.json()["field"] is None
        anonymous = await client.get("/v1/calls")
        assert anonymous.status_code == 401 and "field" in anonymous.json()

    async def test_a_method_the_path_does_not_serve_is_405_allowing_every_method_it_does(self, client, auth):
        response = await client.put(f"/v1/slots/{uuid.uuid4()}", headers=auth("admin"))
        assert response.status_code == 405
        assert response.headers["Allow"] == "DELETE, GET"
        assert response.json()["error"] == "MethodNotAllowed"
        # /v1/calls/import is no call id: GET there is a method the path does not serve, not a bad UUID.
        assert (await client.get("/v1/calls/import", headers=auth("admin"))).status_code == 405

    async def test_identifiers_in_paths_may_be_written_in_capitals(self, client, auth):
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        call = await make_call(client, auth)
        response = await client.get(f"/v1/calls/{call['id'].upper()}", headers=auth("operator"))
        assert response.status_code == 200 and response.json()["id"] == call["id"]
        mine = auth("effector", practitioner_id=w.practitioner_id)
        assert (await client.get(f"/v1/slots/{slot.upper()}", headers=mine)).status_code == 200

    async def test_an_instant_is_written_out_never_a_number_of_seconds(self, client, auth):
        w = await world(client, auth)
        mine = auth("effector", practitioner_id=w.practitioner_id)
        body = {"site_id": w.site["id"], "start": 1893456000, "end": 1893457200, "mode": "in_person"}
        response = await client.post("/v1/slots", json=body, headers=mine)
        assert response.status_code == 422 and response.json()["field"] == "start", response.text
        search = await client.get("/v1/slots/search", params={"territory": "36", "start_to": "0.5"},
                                  headers=auth("operator"))
        assert search.status_code == 422 and search.json()["field"] == "query.start_to"


class TestBookingShapes:
    async def test_a_booking_is_for_a_call_or_an_ed_redirection_never_a_mix(self, client, auth):
        w = await world(client, auth)
        slot = await make_slot(client, auth, w)
        call = await make_call(client, auth)
        ed = auth("urgences")
        for body, field in (({"slot_id": slot, "call_id": None}, "call_id"),
                            ({"slot_id": slot, "call_id": call["id"], "patient": {"birth_year": 1990}}, "patient"),
                            ({"slot_id": slot, "call_id": call["id"], "reason": "toux"}, "reason")):
            response = await client.post("/v1/bookings", json=body, headers=ed)
            assert response.status_code == 422 and response.json()["field"] == field, (body, response.text)
        without_call = await client.post("/v1/bookings", json={"slot_id": slot}, headers=auth("regulator"))
        assert without_call.status_code == 422 and without_call.json()["field"] == "call_id"
        nobody = await client.post("/v1/bookings", json={"slot_id": slot}, headers=ed)
        assert nobody.status_code == 422 and nobody.json()["field"] == "patient.family_name"  # whom does he see?
        redirected = {"slot_id": slot, "patient": {"family_name": "Petit", "birth_year": 1990, "phone": "0611223344"}}
        assert (await client.post("/v1/bookings", json=redirected, headers=ed)).status_code == 201
