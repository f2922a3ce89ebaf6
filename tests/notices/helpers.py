"""A real SMTP server on loopback (aiosmtpd), the SMS file sink, and the sender driven round by round."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import json
import socket
import ssl
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from app.notices.sender import Outbound, run_once
from app.platform.config import Settings
from tests.bookings.helpers import make_slot
from tests.support.pki import Files

PUBLIC_URL = "https://sas36.example.fr"
PATIENT = {"family_name": "Durand", "given_name": "Louise", "birth_year": 1984, "sex": "F",
           "phone": "06 47 38 29 10", "email": "louise.durand@example.fr"}


class Inbox:
    """What the SMTP server received: each message parsed, with its envelope's recipients."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"


class _TlsController(Controller):
    """aiosmtpd's controller pokes its new server once to start it: over TLS from the start, with a client
    certificate when the server asks for one."""

    def __init__(self, *args: Any, poke: ssl.SSLContext | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.poke = poke

    def _trigger_server(self) -> None:
        if self.poke is None:
            super()._trigger_server()
            return
        with socket.create_connection((self.hostname, self.port), timeout=2) as raw, \
                self.poke.wrap_socket(raw, server_hostname="localhost") as wrapped:
            wrapped.recv(1024)


class SmtpServer:
    """aiosmtpd on 127.0.0.1:port, which can be stopped and started again on the same port. ``tls``: ``smtps``
    (TLS from the start) or ``starttls`` (required before any mail), with ``pki``'s server certificate; and with
    ``client_certificate`` the server asks for a client certificate of ``pki``'s CA, and refuses a client
    without one."""

    def __init__(self, port: int, *, tls: str | None = None, pki: Files | None = None,
                 client_certificate: bool = False) -> None:
        self.port, self.inbox = port, Inbox()
        self.tls, self.pki, self.client_certificate = tls, pki, client_certificate
        self.controller: Controller | None = None

    def _server_context(self) -> ssl.SSLContext:
        assert self.pki is not None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.pki.server_certificate, self.pki.server_key)
        if self.client_certificate:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(self.pki.ca)
        return context

    def start(self) -> None:
        if self.tls is None:
            self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        elif self.tls == "smtps":
            assert self.pki is not None
            poke = ssl.create_default_context(cafile=self.pki.ca)
            poke.load_cert_chain(self.pki.client_certificate, self.pki.client_key)
            self.controller = _TlsController(self.inbox, hostname="127.0.0.1", port=self.port,
                                             ssl_context=self._server_context(), poke=poke)
        else:
            self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port,
                                         tls_context=self._server_context(), require_starttls=True)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def url(self) -> str:
        scheme = {None: "smtp", "smtps": "smtps", "starttls": "smtp+starttls"}[self.tls]
        return f"{scheme}://{'localhost' if self.tls else '127.0.0.1'}:{self.port}"


def sent_sms(sink: Path) -> list[dict[str, Any]]:
    if not sink.exists():
        return []
    return [json.loads(line) for line in sink.read_text(encoding="utf-8").splitlines() if line.strip()]


def notice_settings(settings: Settings, *, smtp_url: str | None, sink: Path | None, **more: Any) -> Settings:
    return settings.model_copy(update={"smtp_url": smtp_url, "sms_sink": sink, "public_url": PUBLIC_URL,
                                       "notice_retry_seconds": 0.05, "notice_retry_max_seconds": 0.2, **more})


async def rounds(engine: AsyncEngine, settings: Settings, *, until: Any = None, times: int = 1,
                 limit_seconds: float = 15.0) -> None:
    """Run the sender ``times`` rounds, or until ``until()`` holds (within ``limit_seconds``)."""
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    outbound = Outbound.of(settings)
    deadline = asyncio.get_running_loop().time() + limit_seconds
    done = 0
    while True:
        await run_once(sessionmaker, outbound)
        done += 1
        if (until is None and done >= times) or (until is not None and until()):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the messages did not arrive in time")
        await asyncio.sleep(0.05)


def local(at: str, zone: str) -> dt.datetime:
    from zoneinfo import ZoneInfo

    return dt.datetime.fromisoformat(at).astimezone(ZoneInfo(zone))


async def book(client: Any, auth: Any, w: Any, *, notify: str = "both", start: dt.datetime | None = None,
               mode: str = "in_person", patient: dict[str, Any] | None = None,
               territory: str = "36") -> tuple[dict[str, Any], dict[str, Any]]:
    """A call that says how the patient wants to be told, booked on a new slot at ``start``: (call, booking)."""
    call = await client.post("/v1/calls", json={
        "territory_code": territory, "channel": "15", "reason": "hématurie", "patient": patient or PATIENT,
        "notify": notify, "notify_consent": None if notify == "none" else "patient"},
        headers=auth("operator", [territory]))
    assert call.status_code == 201, call.text
    slot = await make_slot(client, auth, w, start=start, mode=mode)
    booked = await client.post("/v1/bookings", json={"slot_id": slot, "call_id": call.json()["id"]},
                               headers=auth("regulator", [territory]))
    assert booked.status_code == 201, booked.text
    return call.json(), booked.json()
