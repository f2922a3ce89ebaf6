from __future__ import annotations

import datetime as dt
import json
import time

from sqlalchemy import text

from tests.calls.helpers import CSV, HEADER, csv_body
from tests.support.factories import create_cpts

NDJSON = "application/x-ndjson"




ROWS = (
    "A-1,36,15,2022-01-03T10:00:00+01:00,P2,urgences,2022-01-03T10:35:00+01:00,advice|prescription",
    "A-2,36,116117,2022-01-03T11:00:00+01:00,,,,other:no_answer",
    "A-3,36,15,2022-02-10T21:15:00+01:00,P1,medecin,2022-02-10T21:30:00+01:00,slot",
)


async def count(connection, sql: str, **params) -> int:
    return (await connection.execute(text(sql), params)).scalar_one()


async def post(client, body: bytes, headers: dict[str, str], content_type: str = CSV):
    return await client.post("/v1/calls/import", content=body, headers={**headers, "Content-Type": content_type})


class TestImportCsv:
    async def test_a_header_cell_over_the_csv_field_limit_is_422_not_500(self, client, connection, auth):
        huge = '"' + "x" * 200_000 + '"'
        response = await post(client, csv_body(ROWS[0], header=HEADER + "," + huge), auth("admin", []))
        assert response.status_code == 422 and response.json()["error"] == "ImportRejected", response.text
        assert response.json()["rows"][0]["row"] == 0

    async def test_an_admin_imports_calls_with_their_decisions(self, client, connection, auth):
        response = await post(client, csv_body(*ROWS), auth("admin", []))
        assert response.status_code == 201, response.text
        assert response.json() == {"imported": 3, "already_present": 0, "decisions": 4}
        rows = (await connection.execute(text(
            "SELECT external_id, status, source, channel, priority, intent_without_sas, closed_at, received_at, "
            "first_callback_at, due_at FROM calls ORDER BY external_id"
        ))).all()
        assert [(r.external_id, r.status, r.source) for r in rows] == [
            ("A-1", "closed", "import"), ("A-2", "closed", "import"), ("A-3", "closed", "import")]
        a1, a2, _ = rows
        assert a1.intent_without_sas == "urgences" and a2.intent_without_sas == "inconnu"
        assert a1.closed_at == a1.first_callback_at  # closed_at defaults to the first callback ...
        assert a2.closed_at == a2.received_at  # ... or to the reception when there was none
        assert a1.due_at - a1.received_at == dt.timedelta(minutes=60)
        assert a2.due_at - a2.received_at == dt.timedelta(minutes=180)
        kinds = (await connection.execute(text(
            "SELECT c.external_id, d.kind, d.other_reason, d.decided_at = c.closed_at AS at_close "
            "FROM decisions d JOIN calls c ON c.id = d.call_id ORDER BY 1, 2"
        ))).all()
        assert [tuple(k) for k in kinds] == [
            ("A-1", "advice", None, True), ("A-1", "prescription", None, True),
            ("A-2", "other", "no_answer", True), ("A-3", "slot", None, True)]

    async def test_reimporting_the_same_file_creates_nothing_twice(self, client, connection, auth):
        admin = auth("admin", [])
        assert (await post(client, csv_body(*ROWS), admin)).status_code == 201
        again = await post(client, csv_body(*ROWS, "A-4,36,15,2022-03-01T09:00:00+01:00,,,,advice"), admin)
        assert again.status_code == 201
        assert again.json() == {"imported": 1, "already_present": 3, "decisions": 1}
        assert await count(connection, "SELECT count(*) FROM calls") == 4
        assert await count(connection, "SELECT count(*) FROM decisions") == 5

    async def test_a_file_with_one_bad_row_writes_nothing(self, client, connection, auth):
        bad = "A-9,36,fax,2022-01-03T10:00:00+01:00,,,,advice"
        response = await post(client, csv_body(ROWS[0], bad, ROWS[1]), auth("admin", []))
        assert response.status_code == 422
        assert response.json() == {
            "error": "ImportRejected", "detail": "1 rows rejected", "field": None,
            "rows": [{"row": 2, "field": "channel", "reason": "'fax' is not one of 15, 116117, urgences, "
                                                             "professionnel, autre"}],
        }
        assert await count(connection, "SELECT count(*) FROM calls") == 0
        assert await count(connection, "SELECT count(*) FROM decisions") == 0

    async def test_each_rejected_row_is_named_with_its_field_and_reason(self, client, auth):
        future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).isoformat()
        rows = [
            ROWS[0],
            f"B-2,36,15,{future},,,,advice",
            "B-3,36,15,2022-01-03T10:00:00+01:00,,,2022-01-03T09:00:00+01:00,advice",
            "B-4,36,15,2022-01-03T10:00:00+01:00,,,,other",
            "B-5,99,15,2022-01-03T10:00:00+01:00,,,,advice",
            "A-1,36,15,2022-01-03T10:00:00+01:00,,,,advice",
            "B-7,36,15,2022-01-03T10:00:00,,,,advice",
            "B-8,36,15,2022-01-03T10:00:00+01:00,P4,,,advice",
            "B-9,36,15,2022-01-03T10:00:00+01:00,,,,",
            "B-10,36,15,2022-01-03T10:00:00+01:00,,,,advice|teleport",
        ]
        response = await post(client, csv_body(*rows), auth("admin", []))
        assert response.status_code == 422
        body = response.json()
        assert body["detail"] == "9 rows rejected"
        assert [(r["row"], r["field"]) for r in body["rows"]] == [
            (2, "received_at"), (3, "first_callback_at"), (4, "decisions"), (5, "territory_code"),
            (6, "external_id"), (7, "received_at"), (8, "priority"), (9, "decisions"), (10, "decisions")]
        assert "future" in body["rows"][0]["reason"] and "repeats row 1" in body["rows"][4]["reason"]

    async def test_names_and_phones_are_refused_in_the_header(self, client, connection, auth):
        header = HEADER + ",patient_phone"
        response = await post(client, csv_body(ROWS[0] + ",0254000000", header=header), auth("admin", []))
        assert response.status_code == 422
        assert response.json()["rows"] == [
            {"row": 0, "field": "patient_phone", "reason": "patient names and phones are never imported"}]
        assert await count(connection, "SELECT count(*) FROM calls") == 0

    async def test_a_semicolon_separated_file_with_patient_statistics_columns(self, client, connection, auth):
        header = ("external_id;territory_code;channel;received_at;decisions;"
                  "patient_postcode;patient_birth_year;patient_sex")
        body = csv_body("S-1;36;15;2022-05-01T08:00:00Z;advice;36000;1948;F", header=header)
        response = await post(client, body, auth("admin", []))
        assert response.status_code == 201, response.text
        row = (await connection.execute(text(
            "SELECT patient_postcode, patient_birth_year, patient_sex FROM calls"))).one()
        assert tuple(row) == ("36000", 1948, "F")

    async def test_an_unreadable_csv_is_422_naming_the_row(self, client, connection, auth):
        huge = "x" * 200_000
        response = await post(client, csv_body(ROWS[0], f'A-2,36,15,2022-01-03T11:00:00+01:00,,,,"{huge}"'),
                              auth("admin", []))
        assert response.status_code == 422
        assert response.json()["rows"][0]["row"] == 2 and "field larger" in response.json()["rows"][0]["reason"]
        assert await count(connection, "SELECT count(*) FROM calls") == 0

    async def test_a_nul_character_is_rejected_not_sent_to_the_database(self, client, auth):
        response = await post(client, csv_body("A\x00,36,15,2022-01-03T10:00:00+01:00,,,,advice"), auth("admin", []))
        assert response.status_code == 422
        assert response.json()["rows"] == [{"row": 1, "field": "external_id", "reason": "contains a NUL character"}]

    async def test_a_date_before_2000_is_rejected(self, client, auth):
        response = await post(client, csv_body("A-1,36,15,0001-01-01T00:00:00+14:00,,,,advice"), auth("admin", []))
        assert response.status_code == 422
        assert response.json()["rows"] == [{"row": 1, "field": "received_at", "reason": "before 2000"}]

    async def test_an_empty_file_is_422(self, client, auth):
        response = await post(client, csv_body(), auth("admin", []))
        assert response.status_code == 422


class TestImportNdjson:
    async def test_decisions_as_objects_with_the_pharmacy(self, client, connection, auth):
        lines = [
            {"external_id": "N-1", "territory_code": "36", "channel": "professionnel",
             "received_at": "2022-04-01T10:00:00+02:00",
             "decisions": [{"kind": "advice"}, {"kind": "prescription", "pharmacy_name": "Pharmacie du Marché",
                                               "pharmacy_finess": "360001234"}]},
            {"external_id": 2, "territory_code": "36", "channel": "15", "received_at": "2022-04-01T11:00:00+02:00",
             "decisions": "other:redirected_15", "patient_birth_year": 2015},
        ]
        body = "\n".join(json.dumps(line) for line in lines).encode()
        response = await post(client, body, auth("admin", []), NDJSON)
        assert response.status_code == 201, response.text
        assert response.json() == {"imported": 2, "already_present": 0, "decisions": 3}
        finess = await count(connection, "SELECT pharmacy_finess FROM decisions WHERE kind = 'prescription'")
        assert finess == "360001234"

    async def test_a_bad_line_is_reported_with_its_line_number(self, client, connection, auth):
        good = {"external_id": "N-1", "territory_code": "36", "channel": "15",
                "received_at": "2022-04-01T10:00:00+02:00", "decisions": "advice"}
        lines = [json.dumps(good), "{not json", json.dumps({**good, "external_id": "N-3", "patient_family_name": "X"}),
                 json.dumps({**good, "external_id": "N-4", "decisions": [{"kind": "other"}]})]
        response = await post(client, "\n".join(lines).encode(), auth("admin", []), NDJSON)
        assert response.status_code == 422
        assert [(r["row"], r["field"]) for r in response.json()["rows"]] == [
            (2, None), (3, "patient_family_name"), (4, "decisions")]
        assert await count(connection, "SELECT count(*) FROM calls") == 0

    async def test_text_postgresql_cannot_hold_is_rejected_with_its_line(self, client, connection, auth):
        good = {"territory_code": "36", "channel": "15", "received_at": "2022-04-01T10:00:00+02:00",
                "decisions": "advice"}
        lines = [json.dumps({**good, "external_id": "N-1\ud800"}), json.dumps({**good, "external_id": "N-2"}),
                 '{"external_id": ' + "1" * 5000 + "}"]
        response = await post(client, "\n".join(lines).encode(), auth("admin", []), NDJSON)
        assert response.status_code == 422
        assert [(r["row"], r["field"]) for r in response.json()["rows"]] == [(1, "external_id"), (3, None)]
        assert await count(connection, "SELECT count(*) FROM calls") == 0

    async def test_another_content_type_is_415(self, client, auth):
        response = await post(client, b"{}", auth("admin", []), "application/json")
        assert response.status_code == 415
        assert response.json()["field"] == "Content-Type"


class TestImportRights:
    async def test_an_analyst_imports_the_calls_of_its_territory_and_its_cpts(self, client, auth):
        await create_cpts(client, auth("admin", []), "36-a")
        body = csv_body(ROWS[0], "C-2,36-a,15,2022-01-03T10:00:00+01:00,,,,advice")
        response = await post(client, body, auth("analyst", ["36"]))
        assert response.status_code == 201, response.text
        assert response.json()["imported"] == 2

    async def test_an_analyst_of_another_territory_gets_404_and_nothing_is_written(self, client, connection, auth):
        response = await post(client, csv_body(*ROWS), auth("analyst", ["18"]))
        assert response.status_code == 404
        assert response.json()["field"] == "territory_code"
        assert await count(connection, "SELECT count(*) FROM calls") == 0

    async def test_operators_may_not_import(self, client, auth):
        assert (await post(client, csv_body(*ROWS), auth("operator"))).status_code == 403


class TestImportVolume:
    async def test_ten_thousand_rows_in_one_request(self, client, connection, auth):
        start = dt.datetime(2022, 1, 1, 8, tzinfo=dt.UTC)
        kinds = ("advice", "slot", "advice|prescription", "other:no_answer", "prescription")
        rows = [
            f"V-{i},36,{'15' if i % 3 else '116117'},{(start + dt.timedelta(minutes=50 * i)).isoformat()},"
            f"P{1 + i % 3},{'urgences' if i % 4 == 0 else 'inconnu'},,{kinds[i % 5]}"
            for i in range(10_000)
        ]
        began = time.monotonic()
        response = await post(client, csv_body(*rows), auth("admin", []))
        elapsed = time.monotonic() - began
        assert response.status_code == 201, response.text[:500]
        assert response.json() == {"imported": 10_000, "already_present": 0, "decisions": 12_000}
        assert elapsed < 20, f"import of 10 000 rows took {elapsed:.1f} s"
        assert await count(connection, "SELECT count(*) FROM calls WHERE source = 'import'") == 10_000
        assert await count(connection, "SELECT count(*) FROM decisions WHERE kind = 'prescription'") == 4_000
