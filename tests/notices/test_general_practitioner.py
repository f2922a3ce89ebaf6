"""The patient's médecin traitant on the call: an RPPS we know brings his names and MSSanté address, or they are
typed; sealed at rest, correctable (audited, values sealed), purged with the identity; and whether the patient,
told of the report, objected."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from tests.calls.helpers import PATIENT, _texts_holding, now
from tests.support.factories import create_practitioner, new_rpps

ADDRESS = "bernard.quillivic@medecin.mssante.fr"


async def _call(client, auth, **fields):
    body = {"territory_code": "36", "channel": "15", "patient": PATIENT, "reason": "fièvre", **fields}
    return await client.post("/v1/calls", json=body, headers=auth("operator", ["36"]))


class TestOnTheCall:
    async def test_an_rpps_we_know_brings_his_names_and_address(self, client, auth) -> None:
        gp = await create_practitioner(client, auth("admin", []), family_name="Quillivic", given_name="Bernard",
                                       mssante_address=ADDRESS)
        assert gp["mssante_address"] == ADDRESS
        created = await _call(client, auth, general_practitioner={"rpps": gp["rpps"]}, gp_report="not_objected")
        assert created.status_code == 201, created.text
        call = created.json()
        assert call["general_practitioner"] == {"rpps": gp["rpps"], "family_name": "Quillivic",
                                                "given_name": "Bernard", "mssante_address": ADDRESS, "known": True}
        assert call["gp_report"] == "not_objected"
        read = (await client.get(f"/v1/calls/{call['id']}", headers=auth("regulator", ["36"]))).json()
        assert read["general_practitioner"]["mssante_address"] == ADDRESS

    async def test_a_doctor_we_do_not_know_is_typed_with_his_address(self, client, auth) -> None:
        typed = {"family_name": "Le Goff", "given_name": "Anne", "mssante_address": "a.legoff@medecin.mssante.fr"}
        call = (await _call(client, auth, general_practitioner=typed)).json()
        assert call["general_practitioner"] == {**typed, "rpps": None, "known": False}
        assert call["gp_report"] is None  # not asked: no report is sent

    async def test_an_unreachable_doctor_is_a_422_naming_the_field(self, client, auth) -> None:
        unknown = await _call(client, auth, general_practitioner={"rpps": new_rpps()})
        assert unknown.status_code == 422, unknown.text
        assert unknown.json()["field"] == "general_practitioner.mssante_address"
        assert "MSSanté" in unknown.json()["detail"]
        without = await create_practitioner(client, auth("admin", []))  # known, no address with us
        response = await _call(client, auth, general_practitioner={"rpps": without["rpps"]})
        assert response.status_code == 422 and response.json()["field"] == "general_practitioner.mssante_address"
        empty = await _call(client, auth, general_practitioner={})
        assert empty.status_code == 422 and empty.json()["field"] == "general_practitioner"
        plain = await _call(client, auth, general_practitioner={"mssante_address": "dr@gmail.com"})
        assert plain.status_code == 422 and plain.json()["field"].startswith("general_practitioner.mssante_address")
        objection = await _call(client, auth, gp_report="maybe")
        assert objection.status_code == 422 and objection.json()["field"] == "gp_report"

    async def test_sealed_at_rest(self, client, auth, connection) -> None:
        assert (await _call(client, auth, general_practitioner={"mssante_address": ADDRESS})).status_code == 201
        assert await _texts_holding(connection, "quillivic") == []

    async def test_corrected_audited_and_cleared(self, client, auth, connection) -> None:
        call = (await _call(client, auth)).json()
        regulator = auth("regulator", ["36"])
        patched = await client.patch(f"/v1/calls/{call['id']}", json={
            "general_practitioner": {"mssante_address": ADDRESS, "family_name": "Quillivic"},
            "gp_report": "objected"}, headers=regulator)
        assert patched.status_code == 200, patched.text
        assert patched.json()["general_practitioner"]["mssante_address"] == ADDRESS
        assert patched.json()["gp_report"] == "objected"
        detail = (await connection.execute(text(
            "SELECT detail FROM audit_log WHERE action = 'call.corrected' AND call_id = :id"),
            {"id": call["id"]})).scalar_one()
        assert {"general_practitioner", "gp_report"} <= set(detail)
        assert await _texts_holding(connection, "quillivic") == []  # the audit keeps the values sealed
        cleared = await client.patch(f"/v1/calls/{call['id']}", json={"general_practitioner": None,
                                                                       "gp_report": None}, headers=regulator)
        assert cleared.json()["general_practitioner"] is None and cleared.json()["gp_report"] is None

    async def test_purged_with_the_identity(self, client, auth, connection) -> None:
        received = now() - dt.timedelta(days=100)
        call = (await _call(client, auth, general_practitioner={"mssante_address": ADDRESS},
                            received_at=received.isoformat())).json()
        assert (await client.post("/v1/calls/purge", headers=auth("admin", []))).json()["purged"] == 1
        row = (await connection.execute(text("SELECT general_practitioner FROM calls WHERE id = :id"),
                                        {"id": call["id"]})).one()
        assert row.general_practitioner is None
