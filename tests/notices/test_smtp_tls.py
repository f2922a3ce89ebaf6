"""SMTP over TLS against a real server on loopback (aiosmtpd) with a test PKI made here: TLS from the start
(smtps://) and upgraded (smtp+starttls://), the server's certificate checked against SNP_SMTP_CA_FILE, and a
server that requires a client certificate — given one of its CA, refused without or with another CA's."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage

import pytest

from app.notices.providers import Mailer, Undelivered, mailer_for
from app.platform.config import Settings
from tests.bookings.helpers import make_slot, world
from tests.notices.helpers import SmtpServer, notice_settings, rounds
from tests.support.pki import Files, files
from tests.support.processes import free_port


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Files:
    return files(tmp_path_factory.mktemp("smtp-pki"))


def _message() -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "sas@example.fr", "dr@example.fr", "Essai"
    message.set_content("Bonjour")
    return message


@pytest.fixture(params=["smtps", "starttls"])
def tls_server(request, pki):
    server = SmtpServer(free_port(), tls=request.param, pki=pki, client_certificate=True)
    server.start()
    yield server
    server.stop()


class TestTls:
    async def test_a_client_certificate_of_the_servers_ca_delivers(self, tls_server, pki) -> None:
        mailer = Mailer(tls_server.url, "sas@example.fr", 5, ca_file=pki.ca, client_cert=pki.client_certificate,
                        client_key=pki.client_key)
        await mailer.send(_message())
        assert len(tls_server.inbox.messages) == 1
        assert tls_server.inbox.messages[0][0] == ["dr@example.fr"]

    async def test_no_client_certificate_or_another_cas_is_refused(self, tls_server, pki) -> None:
        for cert, key in ((None, None), (pki.other_client_certificate, pki.other_client_key)):
            mailer = Mailer(tls_server.url, "sas@example.fr", 5, ca_file=pki.ca, client_cert=cert, client_key=key)
            with pytest.raises(Undelivered):
                await mailer.send(_message())
        assert tls_server.inbox.messages == []

    async def test_a_server_certificate_the_ca_file_does_not_vouch_for_is_refused(self, tls_server, pki) -> None:
        # the system's authorities do not know the test CA: nothing goes to an unchecked server
        mailer = Mailer(tls_server.url, "sas@example.fr", 5, client_cert=pki.client_certificate,
                        client_key=pki.client_key)
        with pytest.raises(Undelivered, match="SSL"):
            await mailer.send(_message())
        assert tls_server.inbox.messages == []


class TestSettings:
    async def test_the_patients_confirmation_goes_over_starttls_checked_with_snp_smtp_ca_file(
        self, committed_client, auth, engine, settings, pki
    ) -> None:
        server = SmtpServer(free_port(), tls="starttls", pki=pki)
        server.start()
        try:
            configured = notice_settings(settings, smtp_url=server.url, sink=None, smtp_ca_file=pki.ca)
            assert mailer_for(configured).ca_file == pki.ca  # type: ignore[union-attr]
            await rounds(engine, configured)
            w = await world(committed_client, auth)
            call = await committed_client.post("/v1/calls", json={
                "territory_code": "36", "channel": "15", "notify": "email", "notify_consent": "patient",
                "patient": {"family_name": "Durand", "phone": "06 47 38 29 10", "email": "l.durand@example.fr"}},
                headers=auth("operator", ["36"]))
            assert call.status_code == 201, call.text
            slot = await make_slot(committed_client, auth, w, start=dt.datetime.now(dt.UTC) + dt.timedelta(hours=3))
            booked = await committed_client.post("/v1/bookings", json={"slot_id": slot, "call_id": call.json()["id"]},
                                                 headers=auth("regulator", ["36"]))
            assert booked.status_code == 201, booked.text
            await rounds(engine, configured, until=lambda: len(server.inbox.messages) >= 1)
        finally:
            server.stop()
        assert server.inbox.messages[0][0] == ["l.durand@example.fr"]

    def test_the_ca_file_is_a_setting(self, pki) -> None:
        assert Settings(smtp_ca_file=str(pki.ca)).smtp_ca_file == pki.ca
