"""How the patient wants to be told, kept with the call: asked with consent (a parent's for a minor), SMS only to
a French mobile normalised by its range, sealed at rest, correctable (audited) and purged with the identity."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from app.reference.identifiers import mobile_e164
from tests.calls.helpers import PATIENT, _texts_holding, now

MOBILE = {**PATIENT, "phone": "06 47 38 29 10", "email": "louise.quennevillard@example.fr"}


async def _call(client, auth, **fields):
    body = {"territory_code": "36", "channel": "15", "patient": MOBILE, "reason": "fièvre", **fields}
    return await client.post("/v1/calls", json=body, headers=auth("operator", ["36"]))


class TestMobileNumbers:
    @pytest.mark.parametrize(("phone", "e164"), [
        ("06 12 34 56 78", "+33612345678"), ("07.12.34.56.78", "+33712345678"), ("+33 6 12 34 56 78", "+33612345678"),
        ("0692 12 34 56", "+262692123456"), ("0693123456", "+262693123456"), ("0639 12 34 56", "+262639123456"),
        ("0690 12 34 56", "+590690123456"), ("0694123456", "+594694123456"), ("0696123456", "+596696123456"),
        ("00262692123456", "+262692123456"),
        ("02 54 00 00 00", None), ("0262 12 34 56", None), ("+262262123456", None), ("3615", None), (None, None),
        ("+4915112345678", None)])
    def test_a_mobile_is_normalised_to_e164_by_its_range_and_a_landline_is_none(self, phone, e164) -> None:
        assert mobile_e164(phone) == e164


class TestNotifyOnTheCall:
    async def test_the_call_keeps_channel_consent_and_email_and_reads_them_back(self, client, auth) -> None:
        created = await _call(client, auth, notify="both", notify_consent="patient")
        assert created.status_code == 201, created.text
        call = created.json()
        assert call["notify"] == "both" and call["notify_consent"] == "patient"
        assert call["patient"]["email"] == MOBILE["email"]

    async def test_the_default_is_none_without_consent(self, client, auth) -> None:
        call = (await _call(client, auth)).json()
        assert call["notify"] == "none" and call["notify_consent"] is None

    async def test_sms_to_a_landline_is_a_422_naming_the_phone(self, client, auth) -> None:
        response = await _call(client, auth, patient={**MOBILE, "phone": "02 54 00 00 00"}, notify="sms",
                               notify_consent="patient")
        assert response.status_code == 422
        assert response.json()["field"] == "patient.phone" and "SMS impossible" in response.json()["detail"]

    async def test_email_without_an_address_names_the_email(self, client, auth) -> None:
        response = await _call(client, auth, patient=PATIENT, notify="email", notify_consent="patient")
        assert response.status_code == 422 and response.json()["field"] == "patient.email"

    async def test_telling_needs_consent_and_a_minor_a_parents(self, client, auth) -> None:
        response = await _call(client, auth, notify="sms")
        assert response.status_code == 422 and response.json()["field"] == "notify_consent"
        child = {**MOBILE, "birth_year": now().year - 6}
        response = await _call(client, auth, patient=child, notify="sms", notify_consent="patient")
        assert response.status_code == 422 and response.json()["field"] == "notify_consent"
        assert (await _call(client, auth, patient=child, notify="sms", notify_consent="parent")).status_code == 201

    async def test_the_email_is_sealed_at_rest(self, client, auth, connection) -> None:
        assert (await _call(client, auth, notify="email", notify_consent="patient")).status_code == 201
        assert await _texts_holding(connection, "quennevillard@") == []

    async def test_notify_and_email_are_corrected_and_audited(self, client, auth, connection) -> None:
        call = (await _call(client, auth)).json()
        regulator = auth("regulator", ["36"])
        patched = await client.patch(f"/v1/calls/{call['id']}", json={
            "notify": "email", "notify_consent": "patient", "patient": {"email": "autre@example.fr"}},
            headers=regulator)
        assert patched.status_code == 200, patched.text
        assert patched.json()["notify"] == "email" and patched.json()["patient"]["email"] == "autre@example.fr"
        detail = (await connection.execute(text(
            "SELECT detail FROM audit_log WHERE action = 'call.corrected' AND call_id = :id"),
            {"id": call["id"]})).scalar_one()
        assert {"notify", "notify_consent", "patient.email"} <= set(detail)
        landline = await client.patch(f"/v1/calls/{call['id']}", json={
            "notify": "sms", "patient": {"phone": "0254000000"}}, headers=regulator)
        assert landline.status_code == 422 and landline.json()["field"] == "patient.phone"
        withdrawn = await client.patch(f"/v1/calls/{call['id']}", json={"notify": "none"}, headers=regulator)
        assert withdrawn.json()["notify"] == "none"

    async def test_the_email_is_purged_with_the_identity(self, client, auth, connection) -> None:
        received = now() - dt.timedelta(days=100)
        call = (await _call(client, auth, notify="email", notify_consent="patient",
                            received_at=received.isoformat())).json()
        assert (await client.post("/v1/calls/purge", headers=auth("admin", []))).status_code == 200
        row = (await connection.execute(text("SELECT patient_email, notify FROM calls WHERE id = :id"),
                                        {"id": call["id"]})).one()
        assert row.patient_email is None and row.notify == "none"
