"""Patient identity sealed at rest: after every flow that writes identity (a call, a referral, an ED
redirection, a self-referral, a home-visit booking and its events), raw SQL over the whole database
finds no name, phone, address or reason; the API and the doctor's feed read them back; a call is found
by name (case and accents ignored) or phone; after a key rotation old rows still open and every row
carries the new key; and no log line of the whole flow holds any of it."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from structlog.testing import capture_logs

from app.identity import crypto
from app.main import create_app
from tests.bookings.helpers import make_slot, world
from tests.calls.helpers import _texts_holding
from tests.support.command_line import snp
from tests.support.database import reset_database

PATIENT = {"family_name": "Quennevillard", "given_name": "Édouardine", "birth_year": 1947, "sex": "F",
           "phone": "06 47 38 29 10", "postcode": "36000", "address": "12 ruelle Xylophagie"}
NEEDLES = ("Quennevillard", "douardine", "47382910", "47 38 29", "Xylophagie", "hématurie")
K1 = {"k1": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
K2 = "YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODk="


async def _whole_flow(client: httpx.AsyncClient, auth: Any) -> dict[str, Any]:
    w = await world(client, auth)
    operator, regulator = auth("operator", ["36"]), auth("regulator", ["36"])
    call = (await client.post("/v1/calls", json={"territory_code": "36", "channel": "15", "patient": PATIENT,
                                                 "reason": "hématurie depuis ce matin"}, headers=operator)).json()
    slot = await make_slot(client, auth, w, mode="home_visit")
    booked = await client.post("/v1/bookings", json={"slot_id": slot, "call_id": call["id"]}, headers=regulator)
    assert booked.status_code == 201, booked.text
    referral = await client.post("/v1/referrals", json={"territory_code": "36", "patient": PATIENT,
                                                        "reason": "hématurie, vue à la pharmacie"},
                                 headers=auth("referrer", ["36"], referrer_kind="pharmacist"))
    assert referral.status_code == 201, referral.text
    other = await make_slot(client, auth, w, start=dt.datetime.now(dt.UTC) + dt.timedelta(hours=6))
    redirected = await client.post("/v1/bookings", json={"slot_id": other, "patient": PATIENT,
                                                         "reason": "hématurie, vue par l'IOA"},
                                   headers=auth("urgences", ["36"]))
    assert redirected.status_code == 201, redirected.text
    link = (await client.post("/v1/referral-links", json={"territory_code": "36"}, headers=operator)).json()
    assert (await client.post(link["path"], json={"phone": PATIENT["phone"], "reason": "hématurie"})
            ).status_code == 201
    read = (await client.get(f"/v1/calls/{call['id']}", headers=regulator)).json()
    assert read["patient"]["family_name"] == "Quennevillard" and read["reason"] == "hématurie depuis ce matin"
    feed = (await client.get("/v1/effectors/me/bookings",
                             headers=auth("effector", practitioner_id=w.practitioner_id))).json()
    home = [e["payload"]["patient"] for e in feed["events"] if e["payload"]["mode"] == "home_visit"]
    assert home and {p["family_name"] for p in home} == {"Quennevillard"}
    assert {e["payload"]["patient"]["initials"] for e in feed["events"]} == {"ÉQ"}
    return {"call": call, "world": w}


class TestSealedAtRest:
    async def test_raw_sql_finds_no_identity_and_the_logs_none_either(self, client, auth, connection) -> None:
        with capture_logs() as entries:
            await _whole_flow(client, auth)
            found = await client.post("/v1/calls/find", json={"q": "quenne"}, headers=auth("operator", ["36"]))
        assert len(found.json()) == 3  # the live call, the referral, the ED's (the self-referral has no name)
        for needle in NEEDLES:
            assert await _texts_holding(connection, needle) == [], needle
        logs = str(entries)
        for needle in (*NEEDLES, "0647382910"):
            assert needle not in logs, needle
        assert len(entries) > 10  # the flow did log

    async def test_a_call_is_found_by_name_accents_and_case_aside_or_by_phone(self, client, auth) -> None:
        operator = auth("operator", ["36"])
        await client.post("/v1/calls", json={"territory_code": "36", "channel": "15", "patient": {
            "family_name": "Lefèvre-Dupont", "given_name": "Zoé", "phone": "0254112233"}}, headers=operator)

        async def names(q: str) -> list[str]:
            answer = await client.post("/v1/calls/find", json={"q": q}, headers=operator)
            assert answer.status_code == 200, answer.text
            return [c["patient"]["family_name"] for c in answer.json()]
        for query in ("lefe", "LEFÈVRE", "lefevre dup", "zoe", "02 54", "2233", "0254112233"):
            assert await names(query) == ["Lefèvre-Dupont"], query
        for query in ("dupont", "ef", "1122", "9999"):
            assert await names(query) == [], query


class TestRotation:
    async def test_old_rows_still_open_and_rotate_seals_everything_under_the_new_key(
        self, settings, engine, auth, database_url, monkeypatch
    ) -> None:
        await reset_database(engine)
        first = settings.model_copy(update={"identity_keys": K1, "identity_key_id": "k1"})
        both = settings.model_copy(update={"identity_keys": {**K1, "k2": K2}, "identity_key_id": "k2"})

        def app_with(s: Any) -> Any:
            application = create_app(s)
            application.state.engine = engine
            application.state.sessionmaker = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
            return application

        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app_with(first)), base_url="http://t") as c:
                old = (await _whole_flow(c, auth))["call"]
                noted = await c.post(f"/v1/calls/{old['id']}/observations", json={"text": "Allergie à l'aspirine"},
                                     headers=auth("regulator", ["36"]))
                assert noted.status_code == 201, noted.text
            async with engine.connect() as conn:
                keys = {crypto.ring().key_of(v) for (v,) in await conn.execute(text(
                    "SELECT patient_phone FROM calls WHERE patient_phone IS NOT NULL"))}
            assert keys == {"k1"}
            # The new key is added and made current: old rows open, new ones are sealed with it.
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app_with(both)), base_url="http://t") as c:
                read = (await c.get(f"/v1/calls/{old['id']}", headers=auth("regulator", ["36"]))).json()
                assert read["patient"]["phone"] == "0647382910"
                await c.post("/v1/calls", json={"territory_code": "36", "channel": "15", "patient": PATIENT},
                             headers=auth("operator", ["36"]))
            async with engine.connect() as conn:
                keys = [crypto.ring().key_of(v) for (v,) in await conn.execute(text(
                    "SELECT patient_family_name FROM calls WHERE patient_family_name IS NOT NULL "
                    "ORDER BY received_at DESC"))]
            assert keys[0] == "k2" and "k1" in keys

            rotated = await asyncio.to_thread(snp, database_url, monkeypatch, "keys", "rotate",
                                              SNP_IDENTITY_KEYS=json.dumps({**K1, "k2": K2}), SNP_IDENTITY_KEY_ID="k2")
            assert rotated.exit_code == 0, rotated.output
            async with engine.connect() as conn:
                columns = await conn.execute(text(
                    "SELECT patient_family_name, patient_given_name, patient_phone, patient_address, reason "
                    "FROM calls"))
                sealed = {crypto.ring().key_of(v) for row in columns for v in row if v is not None}
                events = [p for (p,) in await conn.execute(text("SELECT payload FROM outbox_events"))]
                notes = {crypto.ring().key_of(v) for (v,) in await conn.execute(text(
                    "SELECT text FROM call_observations"))}
            assert sealed == {"k2"} and notes == {"k2"}
            assert {crypto.ring().key_of(e["patient"]["phone"]) for e in events if "patient" in e} == {"k2"}
            # The old key can now go: everything opens with the new one alone.
            only_new = settings.model_copy(update={"identity_keys": {"k2": K2}, "identity_key_id": "k2"})
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app_with(only_new)),
                                         base_url="http://t") as c:
                read = (await c.get(f"/v1/calls/{old['id']}", headers=auth("regulator", ["36"]))).json()
                assert read["patient"]["address"] == "12 ruelle Xylophagie"
                record = (await c.get(f"/v1/calls/{old['id']}/observations", headers=auth("regulator", ["36"]))).json()
                assert [o["text"] for o in record] == ["Allergie à l'aspirine"]
                found = await c.post("/v1/calls/find", json={"q": "0647"}, headers=auth("operator", ["36"]))
                assert len(found.json()) >= 3
        finally:
            create_app(settings)  # the tests' own keys again for this process
            await reset_database(engine)


async def test_a_name_that_looks_sealed_is_sealed_like_any_other(client, auth) -> None:
    operator = auth("operator", ["36"])
    made = await client.post("/v1/calls", json={"territory_code": "36", "channel": "15", "patient": {
        "family_name": "e1.dev.AAAA", "given_name": "e1.nokey.x", "phone": "0611223344"}, "reason": "e1."},
        headers=operator)
    assert made.status_code == 201, made.text
    read = await client.get(f"/v1/calls/{made.json()['id']}", headers=auth("regulator", ["36"]))
    assert read.status_code == 200
    assert (read.json()["patient"]["family_name"], read.json()["patient"]["given_name"], read.json()["reason"]) == (
        "e1.dev.AAAA", "e1.nokey.x", "e1.")
