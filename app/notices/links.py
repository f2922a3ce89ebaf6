"""The patient's one-click cancel link: ``/p/{token}``, signed with the key of every signed link
(``SNP_LINK_SECRET``, under a key of its own for this kind), valid until the appointment's start. The token names
the booking and when it expires, nothing about the patient; single use is the booking's own state (a cancelled
booking is not cancelled twice)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import uuid

PATH = "/p/"
_TOKEN = re.compile(r"^([A-Za-z0-9_-]{22})\.([0-9a-z]{1,10})\.([A-Za-z0-9_-]{16})$")


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"snp patient cancel links", hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _mac(secret: str, body: str) -> str:
    return _b64(hmac.new(_key(secret), body.encode(), hashlib.sha256).digest()[:12])


def _base36(n: int) -> str:
    digits, out = "0123456789abcdefghijklmnopqrstuvwxyz", ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def sign(secret: str, booking_id: uuid.UUID, expires: dt.datetime) -> str:
    body = f"{_b64(booking_id.bytes)}.{_base36(int(expires.timestamp()))}"
    return f"{body}.{_mac(secret, body)}"


def url(base_url: str, secret: str, booking_id: uuid.UUID, expires: dt.datetime) -> str:
    return f"{base_url}{PATH}{sign(secret, booking_id, expires)}"


def booking_of(secret: str, token: str, at: dt.datetime) -> uuid.UUID | None:
    """The booking a valid, unexpired link names; None otherwise (altered, expired, malformed)."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        return None
    booking, expires, mac = match.groups()
    if not hmac.compare_digest(mac, _mac(secret, f"{booking}.{expires}")):
        return None
    if int(expires, 36) <= at.timestamp():
        return None
    return uuid.UUID(bytes=base64.urlsafe_b64decode(booking + "=="))
