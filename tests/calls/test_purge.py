from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import text
from typer.testing import CliRunner

from app.cli import app as cli_app
from app.identity import crypto
from app.identity.sealing import present
from app.platform.config import get_settings
from tests.calls.helpers import PATIENT, _texts_holding, create_call, now


async def old_decided_call(client, auth, days_ago: int) -> dict:
    received = now() - dt.timedelta(days=days_ago)
    call = await create_call(client, auth("operator"), received_at=received.isoformat(), priority="P2",
                             intent_without_sas="urgences")
    regulator = auth("regulator")
    await client.post(f"/v1/calls/{call['id']}/callback",
                      json={"at": (received + dt.timedelta(minutes=25)).isoformat()}, headers=regulator)
    for body in ({"kind": "advice", "decided_at": (received + dt.timedelta(minutes=30)).isoformat()},
                 {"kind": "prescription", "pharmacy": {"name": "Pharmacie"},
                  "decided_at": (received + dt.timedelta(minutes=31)).isoformat()}):
        assert (await client.post(f"/v1/calls/{call['id']}/decisions", json=body, headers=regulator)).status_code == 201
    assert (await client.post(f"/v1/calls/{call['id']}/close", headers=regulator)).status_code == 200
    return call


class TestPurgeEndpoint:
    async def test_purge_removes_identity_and_keeps_what_the_statistics_count(self, client, auth):
        old = await old_decided_call(client, auth, days_ago=100)
        recent = await old_decided_call(client, auth, days_ago=10)
        response = await client.post("/v1/calls/purge", headers=auth("admin", []))
        assert response.status_code == 200, response.text
        assert response.json()["purged"] == 1 and response.json()["days"] == 90

        purged = (await client.get(f"/v1/calls/{old['id']}", headers=auth("regulator"))).json()
        assert purged["patient"] == {"family_name": None, "given_name": None, "phone": None, "postcode": None,
                                     "address": None, "email": None, "birth_year": PATIENT["birth_year"],
                                     "sex": PATIENT["sex"]}
        assert purged["reason"] is None and purged["purged_at"] is not None
        assert [d["kind"] for d in purged["decisions"]] == ["advice", "prescription"]
        assert len(purged["callbacks"]) == 1
        received = dt.datetime.fromisoformat(old["received_at"])
        assert dt.datetime.fromisoformat(purged["first_callback_at"]) == received + dt.timedelta(minutes=25)
        assert (purged["received_at"], purged["channel"], purged["intent_without_sas"], purged["status"]) == (
            old["received_at"], "15", "urgences", "closed")

        kept = (await client.get(f"/v1/calls/{recent['id']}", headers=auth("regulator"))).json()
        assert kept["patient"]["family_name"] == PATIENT["family_name"] and kept["purged_at"] is None
        closed = (await client.get("/v1/calls?status=closed", headers=auth("operator"))).json()
        assert len(closed) == 2

    async def test_a_second_purge_purges_nothing_more(self, client, auth):
        await old_decided_call(client, auth, days_ago=100)
        assert (await client.post("/v1/calls/purge", headers=auth("admin", []))).json()["purged"] == 1
        assert (await client.post("/v1/calls/purge", headers=auth("admin", []))).json()["purged"] == 0

    async def test_the_retention_can_be_shortened_for_one_run(self, client, auth):
        await old_decided_call(client, auth, days_ago=10)
        response = await client.post("/v1/calls/purge", json={"days": 5}, headers=auth("admin", []))
        assert response.json()["purged"] == 1
        response = await client.post("/v1/calls/purge", json={"days": 0}, headers=auth("admin", []))
        assert response.status_code == 422 and response.json()["field"] == "days"

    async def test_the_purge_is_recorded_in_the_audit_trail(self, client, auth):
        await old_decided_call(client, auth, days_ago=100)
        await client.post("/v1/calls/purge", headers=auth("admin", [], sub="admin-1"))
        entries = (await client.get("/v1/audit?action=calls.purge", headers=auth("admin", []))).json()
        assert len(entries) == 1
        assert entries[0]["actor_sub"] == "admin-1" and entries[0]["detail"]["purged"] == 1

    async def test_only_admins_purge(self, client, auth):
        for role in ("operator", "regulator", "analyst"):
            assert (await client.post("/v1/calls/purge", headers=auth(role))).status_code == 403


class TestPurgeCommand:
    async def test_snp_purge_empties_identity_of_old_calls(self, committed_client, engine, database_url, auth):
        old = await old_decided_call(committed_client, auth, days_ago=40)
        recent = await old_decided_call(committed_client, auth, days_ago=10)
        get_settings.cache_clear()
        try:
            result = await asyncio.to_thread(
                CliRunner().invoke, cli_app, ["purge", "--days", "30"],
                env={"SNP_DATABASE_URL": database_url, "SNP_LOG_LEVEL": "WARNING"},
            )
        finally:
            get_settings.cache_clear()
        assert result.exit_code == 0, result.output
        assert "Appels purgés" in result.output
        async with engine.connect() as conn:
            rows = dict((await conn.execute(text(
                "SELECT id::text, patient_family_name FROM calls"))).all())
            decisions = (await conn.execute(text("SELECT count(*) FROM decisions"))).scalar_one()
        assert rows[old["id"]] is None
        sealed = rows[recent["id"]]  # the recent one kept, sealed at rest
        assert sealed.startswith("e1.") and crypto.ring().open(sealed, "patient_family_name") == PATIENT["family_name"]
        assert decisions == 4




class TestPurgeReachesEverything:
    async def test_after_the_purge_the_whole_database_holds_neither_the_name_nor_the_phone(
        self, client, auth, connection
    ):
        from tests.bookings.helpers import make_slot, move_slot_to_the_past, world

        w = await world(client, auth)
        received = now() - dt.timedelta(days=100)
        patient = {"family_name": "Zyxwvutsky", "given_name": "Quentin", "birth_year": 1961, "sex": "M",
                   "phone": "06 98 76 54 32", "postcode": "36000", "address": "4 impasse Wvutskyx",
                   "email": "q.zyxwvutsky@example.fr"}
        old = await create_call(client, auth("operator"), received_at=received.isoformat(), patient=patient,
                                reason="douleur thoracique atypique", notify="email", notify_consent="patient",
                                general_practitioner={"family_name": "Xwyvutz",
                                                      "mssante_address": "a.xwyvutz@medecin.mssante.fr"},
                                gp_report="not_objected")
        slot = await make_slot(client, auth, w, mode="home_visit")  # the effector is given name, phone, address
        booked = await client.post("/v1/bookings", json={"slot_id": slot, "call_id": old["id"]},
                                   headers=auth("regulator"))
        assert booked.status_code == 201
        event = (await connection.execute(text("SELECT payload FROM outbox_events"))).scalar_one()
        # At rest the event keeps the identity sealed; the effector is shown it opened.
        assert event["patient"]["family_name"].startswith("e1.") and event["call"]["reason"].startswith("e1.")
        shown = present(crypto.ring(), event)
        assert shown["patient"]["initials"] == "QZ" and shown["call"]["reason"] == "douleur thoracique atypique"
        assert shown["patient"]["address"] == "4 impasse Wvutskyx" and shown["patient"]["phone"] == "0698765432"
        for needle in ("Zyxwvutsky", "98765432", "thoracique", "Wvutskyx"):
            assert await _texts_holding(connection, needle) == [], needle  # sealed at rest already
        feed = await client.get("/v1/effectors/me/bookings",
                                headers=auth("effector", practitioner_id=w.practitioner_id))
        assert feed.json()["events"][0]["payload"]["patient"]["family_name"] == "Zyxwvutsky"

        # the visit took place: the effector's report to the médecin traitant, with the patient's traits
        await move_slot_to_the_past(connection, slot)
        outcome = await client.post(f"/v1/bookings/{booked.json()['id']}/outcome", json={
            "status": "fulfilled", "report": {"text": "syndrome coronarien écarté par l'ECG", "patient": {
                "birth_name": "Zyxwvutsky", "given_name": "Quentin", "birth_date": "1961-05-04", "sex": "M"}}},
            headers=auth("effector", practitioner_id=w.practitioner_id))
        assert outcome.status_code == 200 and outcome.json()["report"]["state"] == "pending", outcome.text
        for needle in ("coronarien", "xwyvutz", "q.zyxwvutsky@"):
            assert await _texts_holding(connection, needle) == [], needle  # sealed at rest already

        assert (await client.post("/v1/calls/purge", headers=auth("admin", []))).json()["purged"] == 1

        for needle in ("Zyxwvutsky", "Quentin", "98765432", "98 76 54", "thoracique", "Wvutskyx", "coronarien",
                       "xwyvutz", "q.zyxwvutsky@"):
            assert await _texts_holding(connection, needle) == [], needle
        # and nothing is left sealed either: no e-mail, phone, médecin traitant, report or traits to open
        call_row = (await connection.execute(text(
            "SELECT patient_email, patient_phone, general_practitioner FROM calls WHERE id = :id"),
            {"id": old["id"]})).one()
        assert tuple(call_row) == (None, None, None)
        report_row = (await connection.execute(text("SELECT report, traits FROM gp_reports"))).one()
        assert tuple(report_row) == (None, None)
        event = (await connection.execute(text(
            "SELECT payload FROM outbox_events WHERE kind = 'booking.created'"))).scalar_one()
        assert "patient" not in event and "reason" not in event["call"] and event["purged"] is True
        assert event["booking_id"] == booked.json()["id"]  # what the effector's software keys on stays

    async def test_the_scheduled_purge_runs_once_per_round_whatever_the_number_of_instances(
        self, committed_client, committed_app, auth, engine
    ):
        from app.calls.retention import purge_once

        await create_call(committed_client, auth("operator"), received_at=(now() - dt.timedelta(days=100)).isoformat())
        results = await asyncio.gather(*(purge_once(committed_app.state.sessionmaker, 90, 7305) for _ in range(4)))
        assert sorted(r for r in results if r is not None) in ([1], [0, 1], [0, 0, 1], [0, 0, 0, 1])
        assert results.count(1) == 1
        async with engine.connect() as conn:
            left = await conn.execute(text("SELECT count(*) FROM calls WHERE patient_family_name IS NOT NULL"))
            assert left.scalar_one() == 0
