"""Signed links: ``<subject>.<expiry>.<mac>`` — a subject (what the link names), its expiry (seconds since 1970,
base 36) and 96 bits of HMAC-SHA-256 over both, under a key of its own for each kind of link derived from the key
of every signed link (``SNP_LINK_SECRET``). Nothing else is in the URL; a link cannot be altered, moved to
another subject or kind, or used after its expiry. The self-referral links (app/calls/self_referral.py) and the
patient's cancel links (app/notices/links.py) are of this form."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _mac(secret: str, kind: bytes, body: str) -> str:
    key = hmac.new(secret.encode(), kind, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(hmac.new(key, body.encode(), hashlib.sha256).digest()[:12]).decode().rstrip("=")


def _base36(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _DIGITS[r] + out
        if n == 0:
            return out


def sign(secret: str, kind: bytes, subject: str, expires: dt.datetime) -> str:
    """The token of a link of ``kind`` naming ``subject`` until ``expires``."""
    body = f"{subject}.{_base36(int(expires.timestamp()))}"
    return f"{body}.{_mac(secret, kind, body)}"


def subject_of(secret: str, kind: bytes, subjects: str, token: str, at: dt.datetime) -> str | None:
    """The subject a valid link of ``kind`` names at ``at`` (``subjects``: the pattern of the kind's subjects),
    or None: malformed, altered, of another kind, or expired."""
    match = re.fullmatch(rf"({subjects})\.([0-9a-z]{{1,10}})\.([A-Za-z0-9_-]{{16}})", token)
    if match is None:
        return None
    subject, expires, mac = match.groups()
    if not hmac.compare_digest(mac, _mac(secret, kind, f"{subject}.{expires}")):
        return None
    if int(expires, 36) <= at.timestamp():
        return None
    return subject
