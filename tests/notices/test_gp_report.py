"""The visit's report to the médecin traitant, through the HTTP interface and a real SMTP server on loopback that
requires TLS and a client certificate (aiosmtpd, a PKI made here): the effector posts the outcome with the
report and the identity traits; the médecin traitant receives one secure mail with the report as text, PDF and an
IHE XDM zip holding a CDA document; nothing goes when the patient objected; a server down for a while gets it once
back; a report given up shows on the booking. Each message sent is audited, never its content."""

from __future__ import annotations

import asyncio
import io
import zipfile

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.notices.reports import mailer_for, send_once
from tests.bookings.helpers import make_slot, move_slot_to_the_past, world
from tests.calls.helpers import _texts_holding
from tests.notices.helpers import SmtpServer
from tests.support.pki import Files, files
from tests.support.processes import free_port

GP = "bernard.quillivic@medecin.mssante.fr"
MAILBOX = "sas36@cpts-indre.mssante.fr"
REPORT = "Angine érythémateuse sans signe de gravité ; test streptococcique négatif. Traitement symptomatique."
TRAITS = {"birth_name": "Kervarec", "given_name": "Louise", "birth_date": "1984-03-02", "sex": "F"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Files:
    return files(tmp_path_factory.mktemp("mssante-pki"), client_cn=MAILBOX)


@pytest.fixture
def server(pki):
    smtp = SmtpServer(free_port(), tls="starttls", pki=pki, client_certificate=True)
    smtp.start()
    yield smtp
    smtp.stop()


def _configured(settings, pki: Files, url: str, **more):
    return settings.model_copy(update={
        "mssante_smtp_url": url, "mssante_from": f"SAS de l'Indre <{MAILBOX}>", "mssante_ca_file": pki.ca,
        "mssante_client_cert": pki.client_certificate, "mssante_client_key": pki.client_key,
        "notice_retry_seconds": 0.05, "notice_retry_max_seconds": 0.2, **more})


async def _rounds(engine, configured, *, until=None, times: int = 1, limit_seconds: float = 15.0) -> None:
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    mailer = mailer_for(configured)
    deadline = asyncio.get_running_loop().time() + limit_seconds
    done = 0
    while True:
        await send_once(sessionmaker, configured, mailer)
        done += 1
        if (until is None and done >= times) or (until is not None and until()):
            return
        assert asyncio.get_running_loop().time() < deadline, "the report did not arrive in time"
        await asyncio.sleep(0.05)


async def _visit(client, auth, engine, *, gp_report="not_objected", report=True, status="fulfilled", post=True):
    """A call naming the médecin traitant, a booking, the visit past, its outcome posted by the effector."""
    w = await world(client, auth)
    call = await client.post("/v1/calls", json={
        "territory_code": "36", "channel": "15", "reason": "mal de gorge",
        "patient": {"family_name": "Kervarec", "given_name": "Louise", "birth_year": 1984, "sex": "F",
                    "phone": "06 47 38 29 10"},
        "general_practitioner": {"family_name": "Quillivic", "given_name": "Bernard", "mssante_address": GP},
        "gp_report": gp_report}, headers=auth("operator", ["36"]))
    assert call.status_code == 201, call.text
    slot = await make_slot(client, auth, w)
    booking = await client.post("/v1/bookings", json={"slot_id": slot, "call_id": call.json()["id"]},
                                headers=auth("regulator", ["36"]))
    assert booking.status_code == 201, booking.text
    await move_slot_to_the_past(engine, slot)
    effector = auth("effector", practitioner_id=w.practitioner_id)
    if not post:
        return w, call.json(), booking.json(), None, effector
    body = {"status": status, **({"report": {"text": REPORT, "patient": TRAITS}} if report else {})}
    outcome = await client.post(f"/v1/bookings/{booking.json()['id']}/outcome", json=body, headers=effector)
    return w, call.json(), booking.json(), outcome, effector


class TestReportSent:
    async def test_the_gp_receives_one_secure_mail_with_text_pdf_and_xdm(
        self, committed_client, auth, engine, settings, pki, server
    ) -> None:
        configured = _configured(settings, pki, server.url)
        w, call, booking, outcome, effector = await _visit(committed_client, auth, engine)
        assert outcome.status_code == 200, outcome.text
        assert outcome.json()["report"]["state"] == "pending"
        async with engine.connect() as conn:
            assert await _texts_holding(conn, "érythémateuse") == []  # sealed at rest
            assert await _texts_holding(conn, "Kervarec") == []
        await _rounds(engine, configured, until=lambda: len(server.inbox.messages) >= 1)
        await _rounds(engine, configured, times=3)  # once
        assert len(server.inbox.messages) == 1

        recipients, mail = server.inbox.messages[0]
        assert recipients == [GP] and MAILBOX in mail["From"]
        # The subject, shown outside the protected body, names no patient; the body does.
        assert str(mail["Subject"]).startswith("Compte rendu de consultation non programmée du ")
        assert "KERVAREC" not in str(mail["Subject"]) and "1984" not in str(mail["Subject"])
        parts = {part.get_content_type(): part for part in mail.walk()}
        body = parts["text/plain"].get_content()
        assert "KERVAREC Louise, née le 02/03/1984" in body
        assert REPORT in body and "Dr Bernard Quillivic" in body and w.practitioner["family_name"] in body
        assert "ne s'y est pas opposé" in body
        pdf = parts["application/pdf"].get_payload(decode=True)
        assert pdf.startswith(b"%PDF") and parts["application/pdf"].get_filename() == "compte-rendu.pdf"
        assert parts["application/zip"].get_filename() == "IHE_XDM.ZIP"
        xdm = zipfile.ZipFile(io.BytesIO(parts["application/zip"].get_payload(decode=True)))
        assert set(xdm.namelist()) == {"INDEX.HTM", "README.TXT", "IHE_XDM/SUBSET01/METADATA.XML",
                                       "IHE_XDM/SUBSET01/DOC0001.XML"}
        cda = xdm.read("IHE_XDM/SUBSET01/DOC0001.XML").decode()
        assert '<family qualifier="BR">Kervarec</family>' in cda and '<birthTime value="19840302"/>' in cda
        assert 'extension="8' + w.practitioner["rpps"] in cda and "mailto:" + GP in cda
        assert 'mediaType="application/pdf" representation="B64"' in cda
        metadata = xdm.read("IHE_XDM/SUBSET01/METADATA.XML").decode()
        assert "DOC0001.XML" in metadata and "intendedRecipient" in metadata and GP in metadata

        read = (await committed_client.get(f"/v1/bookings/{booking['id']}", headers=effector)).json()
        assert read["report"]["state"] == "sent" and read["report"]["sent_at"]
        assert mail["Message-ID"].strip("<>").split("@")[0] == read["report"]["id"]
        async with engine.connect() as conn:
            trail = (await conn.execute(text(
                "SELECT actor_sub, detail FROM audit_log WHERE action = 'message.sent' AND call_id = :id"),
                {"id": call["id"]})).all()
        assert len(trail) == 1
        actor, detail = trail[0]
        assert actor == "system" and detail["channel"] == "mssante" and detail["delivered"] is True
        assert detail["kind"] == "gp_report" and detail["by"]
        assert "érythémateuse" not in str(detail) and GP not in str(detail)

    async def test_nothing_is_sent_when_the_patient_objected_or_was_not_asked(
        self, committed_client, auth, engine, settings, pki, server
    ) -> None:
        configured = _configured(settings, pki, server.url)
        for gp_report in ("objected", None):
            _, _, booking, outcome, _ = await _visit(committed_client, auth, engine, gp_report=gp_report)
            assert outcome.status_code == 200, outcome.text
            assert outcome.json()["report"]["state"] == "withheld"
            assert "objected" in outcome.json()["report"]["last_error"] or "not asked" in outcome.json()[
                "report"]["last_error"]
        # told and not objecting at first, objecting before it went: withheld too
        _, call, booking, outcome, effector = await _visit(committed_client, auth, engine)
        assert outcome.json()["report"]["state"] == "pending"
        patched = await committed_client.patch(f"/v1/calls/{call['id']}", json={"gp_report": "objected"},
                                               headers=auth("regulator", ["36"]))
        assert patched.status_code == 200, patched.text
        await _rounds(engine, configured, times=3)
        assert server.inbox.messages == []
        read = (await committed_client.get(f"/v1/bookings/{booking['id']}", headers=effector)).json()
        assert read["report"]["state"] == "withheld"
        async with engine.connect() as conn:
            kept = (await conn.execute(text("SELECT count(*) FROM gp_reports WHERE report IS NOT NULL "
                                            "OR traits IS NOT NULL"))).scalar_one()
        assert kept == 0  # a report that will never go is not kept


class TestServerDown:
    async def test_a_server_down_for_a_while_gets_the_report_once_back(
        self, committed_client, auth, engine, settings, pki
    ) -> None:
        server = SmtpServer(free_port(), tls="smtps", pki=pki, client_certificate=True)  # down at first
        configured = _configured(settings, pki, server.url)
        _, _, booking, outcome, effector = await _visit(committed_client, auth, engine)
        assert outcome.status_code == 200, outcome.text
        await _rounds(engine, configured, times=2)
        read = (await committed_client.get(f"/v1/bookings/{booking['id']}", headers=effector)).json()
        assert read["report"]["state"] == "pending" and read["report"]["attempts"] >= 1
        assert read["report"]["last_error"]
        server.start()
        try:
            await _rounds(engine, configured, until=lambda: len(server.inbox.messages) >= 1)
            await asyncio.sleep(0.3)
            await _rounds(engine, configured, times=3)
        finally:
            server.stop()
        assert len(server.inbox.messages) == 1
        read = (await committed_client.get(f"/v1/bookings/{booking['id']}", headers=effector)).json()
        assert read["report"]["state"] == "sent"

    async def test_a_report_given_up_shows_on_the_booking_and_is_audited(
        self, committed_client, auth, engine, settings, pki
    ) -> None:
        configured = _configured(settings, pki, f"smtps://localhost:{free_port()}")  # never up
        _, call, booking, _, _ = await _visit(committed_client, auth, engine)
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE gp_reports SET give_up_at = now()"))
        await _rounds(engine, configured, times=2)
        read = (await committed_client.get(f"/v1/bookings/{booking['id']}", headers=auth("regulator", ["36"])))
        report = read.json()["report"]
        assert report["state"] == "failed" and report["failed_at"] and report["last_error"]
        async with engine.connect() as conn:
            detail = (await conn.execute(text(
                "SELECT detail FROM audit_log WHERE action = 'message.sent' AND call_id = :id"),
                {"id": call["id"]})).scalar_one()
        assert detail["delivered"] is False and detail["channel"] == "mssante"


class TestReportInput:
    async def test_a_report_needs_a_visit_that_took_place_the_traits_and_a_bounded_text(
        self, client, auth, connection
    ) -> None:
        _, _, booking, _, effector = await _visit(client, auth, connection, post=False)
        url = f"/v1/bookings/{booking['id']}/outcome"
        cases = [
            ({"status": "noshow", "report": {"text": REPORT, "patient": TRAITS}}, "report"),
            ({"status": "fulfilled", "report": {"text": REPORT}}, "report.patient"),
            ({"status": "fulfilled", "report": {"text": REPORT, "patient": {**TRAITS, "birth_date": "2999-01-01"}}},
             "report.patient.birth_date"),
            ({"status": "fulfilled", "report": {"text": "x" * 4001, "patient": TRAITS}}, "report.text"),
            ({"status": "fulfilled", "report": {"text": REPORT, "patient": {**TRAITS, "sex": "X"}}},
             "report.patient.sex"),
            # a line break would reach the mail's headers and documents
            ({"status": "fulfilled", "report": {"text": REPORT, "patient": {
                **TRAITS, "birth_name": "Kervarec\nBcc: x@evil.example"}}}, "report.patient.birth_name"),
        ]
        for body, field in cases:
            response = await client.post(url, json=body, headers=effector)
            assert response.status_code == 422, (field, response.text)
            assert response.json()["field"] == field, response.json()
        done = await client.post(url, json={"status": "fulfilled"}, headers=effector)
        assert done.status_code == 200 and done.json()["report"] is None  # no report: nothing queued
