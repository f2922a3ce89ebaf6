"""The ED redirection and the professional's booking (POST /v1/bookings without a call) and the referral
(POST /v1/referrals) ask how the patient wants to be told as a call does, under the same rules
(app/calls/schemas.py notify_misfit): the new call keeps it (sealed), and the patient is told of the appointment."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import text

from app.identity import crypto
from tests.bookings.helpers import make_slot, world
from tests.notices.helpers import notice_settings, rounds, sent_sms

PATIENT = {"family_name": "Petit", "given_name": "Jules", "birth_year": 1990, "sex": "M", "phone": "06 11 22 33 44",
           "email": "jules.petit@example.fr"}


_SLOTS = itertools.count()


async def _redirect(client, auth, w, role="urgences", **body):
    start = dt.datetime.now(dt.UTC) + dt.timedelta(hours=3, minutes=30 * next(_SLOTS))
    slot = await make_slot(client, auth, w, start=start)
    headers = auth(role, ["36"], **({"referrer_kind": "nurse"} if role == "referrer" else {}))
    return await client.post("/v1/bookings", json={"slot_id": slot, "reason": "otite", **body}, headers=headers)


class TestRedirection:
    async def test_the_ed_nurse_asks_and_the_patient_is_told_by_sms(
        self, committed_client, auth, engine, settings, tmp_path
    ) -> None:
        sink = tmp_path / "sms.jsonl"
        configured = notice_settings(settings, smtp_url=None, sink=sink)
        await rounds(engine, configured)
        w = await world(committed_client, auth)
        booked = await _redirect(committed_client, auth, w, patient=PATIENT, notify="sms", notify_consent="patient")
        assert booked.status_code == 201, booked.text
        await rounds(engine, configured, until=lambda: len(sent_sms(sink)) >= 1)
        assert sent_sms(sink)[0]["to"] == "+33611223344" and "otite" not in sent_sms(sink)[0]["text"]
        call = (await committed_client.get(f"/v1/calls/{booked.json()['call_id']}",
                                           headers=auth("regulator", ["36"]))).json()
        assert (call["notify"], call["notify_consent"], call["patient"]["email"]) == (
            "sms", "patient", PATIENT["email"])

    async def test_a_referring_professional_asks_too_and_the_email_is_sealed(self, client, auth, connection) -> None:
        w = await world(client, auth)
        booked = await _redirect(client, auth, w, role="referrer", patient=PATIENT, notify="email",
                                 notify_consent="patient")
        assert booked.status_code == 201, booked.text
        row = (await connection.execute(text("SELECT patient_email, notify FROM calls WHERE id = :id"),
                                        {"id": booked.json()["call_id"]})).one()
        assert row.notify == "email" and PATIENT["email"] not in row.patient_email
        assert crypto.ring().open(row.patient_email, "patient_email") == PATIENT["email"]

    async def test_the_rules_of_a_call_apply_and_refuse_before_booking(self, client, auth, connection) -> None:
        w = await world(client, auth)
        landline = await _redirect(client, auth, w, patient={**PATIENT, "phone": "02 54 00 00 00"}, notify="sms",
                                   notify_consent="patient")
        assert landline.status_code == 422 and landline.json()["field"] == "patient.phone"
        assert "SMS impossible" in landline.json()["detail"]
        no_consent = await _redirect(client, auth, w, patient=PATIENT, notify="sms")
        assert no_consent.status_code == 422 and no_consent.json()["field"] == "notify_consent"
        child = {**PATIENT, "birth_year": dt.date.today().year - 8}
        minor = await _redirect(client, auth, w, patient=child, notify="sms", notify_consent="patient")
        assert minor.status_code == 422 and minor.json()["field"] == "notify_consent"
        no_address = await _redirect(client, auth, w, patient={**PATIENT, "email": None}, notify="email",
                                     notify_consent="parent")
        assert no_address.status_code == 422 and no_address.json()["field"] == "patient.email"
        bad = await _redirect(client, auth, w, patient={**PATIENT, "email": "pas-une-adresse"})
        assert bad.status_code == 422 and bad.json()["field"] == "patient.email"
        assert (await connection.execute(text("SELECT count(*) FROM bookings"))).scalar() == 0
        plain = await _redirect(client, auth, w, patient={**PATIENT, "email": None})
        assert plain.status_code == 201, plain.text  # nothing asked: nothing sent (notify none)


class TestReferral:
    async def test_the_referral_keeps_how_the_patient_wants_to_be_told(self, client, auth) -> None:
        referrer = auth("referrer", ["36"], referrer_kind="pharmacist")
        created = await client.post("/v1/referrals", json={
            "territory_code": "36", "patient": PATIENT, "reason": "douleur", "notify": "both",
            "notify_consent": "patient"}, headers=referrer)
        assert created.status_code == 201, created.text
        call = (await client.get(f"/v1/calls/{created.json()['id']}", headers=auth("regulator", ["36"]))).json()
        assert (call["notify"], call["patient"]["email"]) == ("both", PATIENT["email"])
        landline = await client.post("/v1/referrals", json={
            "territory_code": "36", "patient": {**PATIENT, "phone": "0254000000"}, "reason": "douleur",
            "notify": "sms", "notify_consent": "patient"}, headers=referrer)
        assert landline.status_code == 422 and landline.json()["field"] == "patient.phone"
