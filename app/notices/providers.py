"""Who carries the messages: e-mail by SMTP; SMS through a provider — Brevo's transactional SMS API over HTTPS
(behind the SSRF guard), or a file in development. A provider raises ``Undelivered`` when the message did not go
(the sender tries again later)."""

from __future__ import annotations

import asyncio
import json
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import httpx

from app.platform.config import Settings
from app.platform.outbound import check_url, guarded_client


class Undelivered(Exception):
    """The provider did not take the message; ``str()`` says why (a status or an error's type, never content)."""


class Mailer:
    """E-mail by SMTP: ``smtp://`` (plain), ``smtps://`` (TLS from the start), ``smtp+starttls://`` (upgraded);
    a user and password in the URL log in. Over TLS the server's certificate is checked against the system's
    authorities, or ``ca_file``'s alone when given, and its name against the URL's host; ``client_cert`` and
    ``client_key`` (PEM files) are presented to a server that asks for a certificate (MSSanté's transport).
    smtplib runs in a thread: the event loop never waits on a socket."""

    def __init__(self, url: str, sender: str, timeout: float, *, ca_file: Path | None = None,
                 client_cert: Path | None = None, client_key: Path | None = None) -> None:
        parts = urlsplit(url)
        self.scheme, self.host = parts.scheme, parts.hostname or "localhost"
        self.port = parts.port or {"smtp": 25, "smtps": 465, "smtp+starttls": 587}[parts.scheme]
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender, self.timeout = sender, timeout
        self.ca_file, self.client_cert, self.client_key = ca_file, client_cert, client_key

    def context(self) -> ssl.SSLContext:
        """Made for each connection: a renewed certificate or CA file on disk is read at the next message."""
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.client_cert is not None:
            context.load_cert_chain(str(self.client_cert), str(self.client_key) if self.client_key else None)
        return context

    def _send(self, message: EmailMessage) -> None:
        context = self.context() if self.scheme != "smtp" else None
        smtp: smtplib.SMTP
        if self.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.scheme == "smtp+starttls":
                smtp.starttls(context=context)
            if self.user is not None:
                smtp.login(self.user, self.password or "")
            smtp.send_message(message)

    async def send(self, message: EmailMessage) -> None:
        try:
            await asyncio.to_thread(self._send, message)
        except (OSError, smtplib.SMTPException) as exc:  # ssl.SSLError is an OSError
            code = getattr(exc, "smtp_code", None)
            raise Undelivered(f"SMTP {code}" if code else type(exc).__name__) from exc


class SmsProvider(Protocol):
    async def send(self, message_id: str, to: str, text: str) -> None:
        """Send ``text`` to the E.164 number ``to``; ``message_id`` lets the receiver know a repeat."""


class FileSink:
    """Development: each SMS is a JSON line appended to a file (id, to, sender, text)."""

    def __init__(self, path: Path, sender: str) -> None:
        self.path, self.sender = path, sender
        self.lock = asyncio.Lock()

    def _append(self, line: str) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")

    async def send(self, message_id: str, to: str, text: str) -> None:
        line = json.dumps({"id": message_id, "to": to, "sender": self.sender, "text": text}, ensure_ascii=False)
        async with self.lock:
            try:
                await asyncio.to_thread(self._append, line)
            except OSError as exc:
                raise Undelivered(type(exc).__name__) from exc


class Brevo:
    """Brevo's transactional SMS (``POST https://api.brevo.com/v3/transactionalSMS/send``, header ``api-key``,
    JSON ``{sender, recipient, content, type, tag}``; the recipient in international form without its +; a 2xx
    answers ``{"messageId": …}``). Our message id goes as its ``tag``. The URL is checked by the SSRF guard
    when the provider is made, and every connection again on the address dialled."""

    def __init__(self, url: str, token: str, sender: str, allowed_hosts: list[str], timeout: float,
                 allow_plain_http: bool) -> None:
        check_url(url, allowed_hosts=allowed_hosts, allow_plain_http=allow_plain_http)
        self.url, self.token, self.sender = url, token, sender
        self.client: httpx.AsyncClient = guarded_client(allowed_hosts, timeout)

    async def send(self, message_id: str, to: str, text: str) -> None:
        body = {"sender": self.sender, "recipient": to.removeprefix("+"), "content": text, "type": "transactional",
                "tag": message_id}
        try:
            response = await self.client.post(self.url, json=body, headers={
                "api-key": self.token, "accept": "application/json"})
        except httpx.HTTPError as exc:
            raise Undelivered(type(exc).__name__) from exc
        if not response.is_success:
            raise Undelivered(f"HTTP {response.status_code}")

    async def close(self) -> None:
        await self.client.aclose()


def mailer_for(settings: Settings) -> Mailer | None:
    if not settings.smtp_url:
        return None
    return Mailer(settings.smtp_url, settings.smtp_from, settings.smtp_timeout_seconds, ca_file=settings.smtp_ca_file)


def sms_for(settings: Settings) -> SmsProvider | None:
    if settings.sms_url:
        return Brevo(settings.sms_url, settings.sms_token or "", settings.sms_sender,
                     list(settings.webhook_allowed_hosts), settings.smtp_timeout_seconds,
                     allow_plain_http=settings.env != "production")
    if settings.sms_sink is not None:
        return FileSink(settings.sms_sink, settings.sms_sender)
    return None
