"""The waiting list imported from a CSV (coordinator, admin): all or nothing; each row a waiting request of source
import, its priority computed, its identity sealed; the errors name the row and the column; the walls hold."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

YEAR = dt.date.today().year
CSV = "text/csv"


async def _import(client, headers, body: str, content_type: str = CSV):
    return await client.post("/v1/mt-requests/import", content=body.encode(),
                             headers={**headers, "Content-Type": content_type})


GOOD = ("territory_code;family_name;given_name;birth_year;phone;postcode;publics;note\n"
        f"36;Lenoir;Paul;{YEAR - 80};0611223344;36100;;sorti de l'hôpital\n"
        f"36;Blanc;Lise;{YEAR - 30};0622334455;36000;ald|pregnancy;\n"
        f"36;Roux;Jean;{YEAR - 40};0633445566;;;\n")


class TestImport:
    async def test_every_row_becomes_a_waiting_request_sealed_with_its_priority(self, client, auth, connection):
        imported = await _import(client, auth("coordinator"), GOOD)
        assert imported.status_code == 200, imported.text
        assert imported.json() == {"imported": 3, "by_priority": {"high": 1, "medium": 1, "normal": 1}}
        listed = (await client.get("/v1/mt-requests", headers=auth("coordinator"))).json()
        assert [(r["source"], r["initials"], r["priority"]) for r in listed] == [
            ("import", "LB", "high"), ("import", "PL", "medium"), ("import", "JR", "normal")]
        stored = (await connection.execute(text(
            "SELECT patient_phone, patient_family_name, note FROM mt_requests WHERE source = 'import'"))).all()
        phones = ("0611223344", "0622334455", "0633445566", "611223344", "622334455", "633445566")
        assert not any(phone in r.patient_phone for r in stored for phone in phones)  # sealed, not the number
        assert not any("Lenoir" in (r.patient_family_name or "") or "hôpital" in (r.note or "") for r in stored)
        read = (await client.get(f"/v1/mt-requests/{listed[1]['id']}", headers=auth("coordinator"))).json()
        assert (read["patient"]["family_name"], read["note"]) == ("Lenoir", "sorti de l'hôpital")

    async def test_one_bad_row_and_nothing_is_written_the_errors_name_row_and_column(self, client, auth):
        bad = (GOOD + "36;Vert;Luc;1990;;36000;;\n"
               "36;Gris;Ana;1990;0644556677;99999;;\n"
               "36;Noir;Eve;2999;0655667788;36000;;\n"
               "36;Bleu;Max;1990;0666778899;36000;cancer;\n"
               "99;Rose;Ida;1990;0677889900;36000;;\n")
        refused = await _import(client, auth("admin", []), bad)
        assert refused.status_code == 422, refused.text
        assert [(e["row"], e["field"]) for e in refused.json()["rows"]] == [
            (4, "phone"), (5, "postcode"), (6, "birth_year"), (7, "publics"), (8, "territory_code")]
        assert (await client.get("/v1/mt-requests", headers=auth("admin", []))).json() == []

    async def test_the_header_the_media_type_and_the_walls(self, client, auth):
        header = await _import(client, auth("coordinator"), "territory_code;nom;phone\n36;x;0611223344\n")
        assert (header.status_code, header.json()["rows"][0]) == (
            422, {"row": 0, "field": "nom", "reason": header.json()["rows"][0]["reason"]})
        missing = await _import(client, auth("coordinator"), "territory_code;family_name\n36;x\n")
        assert missing.json()["rows"] == [{"row": 0, "field": "phone", "reason": "required column missing"}]
        assert (await _import(client, auth("coordinator"), GOOD, "application/json")).status_code == 415
        assert (await _import(client, auth("coordinator"), "territory_code;phone\n")).status_code == 422
        foreign = await _import(client, auth("coordinator", ["18"]), GOOD)
        assert (foreign.status_code, foreign.json()["field"]) == (404, "territory_code")
        for role in ("regulator", "referrer", "analyst", "operator"):
            assert (await _import(client, auth(role), GOOD)).status_code == 403, role
