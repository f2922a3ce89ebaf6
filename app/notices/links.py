"""The patient's one-click cancel link: ``/p/{token}``, signed with the key of every signed link
(``SNP_LINK_SECRET``, under a key of its own for this kind), valid until the appointment's start. The token names
the booking and when it expires, nothing about the patient; single use is the booking's own state (a cancelled
booking is not cancelled twice)."""

from __future__ import annotations

import base64
import datetime as dt
import uuid

from app.platform import signed_links

PATH = "/p/"
KIND = b"snp patient cancel links"
# The booking's id, its 16 bytes in unpadded base64url.
BOOKING = r"[A-Za-z0-9_-]{22}"


def sign(secret: str, booking_id: uuid.UUID, expires: dt.datetime) -> str:
    subject = base64.urlsafe_b64encode(booking_id.bytes).decode().rstrip("=")
    return signed_links.sign(secret, KIND, subject, expires)


def url(base_url: str, secret: str, booking_id: uuid.UUID, expires: dt.datetime) -> str:
    return f"{base_url}{PATH}{sign(secret, booking_id, expires)}"


def booking_of(secret: str, token: str, at: dt.datetime) -> uuid.UUID | None:
    """The booking a valid, unexpired link names; None otherwise (altered, expired, malformed)."""
    booking = signed_links.subject_of(secret, KIND, BOOKING, token, at)
    return None if booking is None else uuid.UUID(bytes=base64.urlsafe_b64decode(booking + "=="))
