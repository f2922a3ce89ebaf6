"""The doctor's answer link: ``/mt/{token}``, signed with the key of every signed link (``SNP_LINK_SECRET``, under
a key of its own for this kind), valid ``SNP_MT_ANSWER_LINK_DAYS`` from the proposal. The token names the proposal
and when it expires, nothing about the patient; single use is the proposal's own state (an answered proposal is
not answered twice)."""

from __future__ import annotations

import base64
import datetime as dt
import uuid

from app.platform import signed_links

PATH = "/mt/"
KIND = b"snp mt proposal answer links"
# The proposal's id, its 16 bytes in unpadded base64url.
PROPOSAL = r"[A-Za-z0-9_-]{22}"


def sign(secret: str, proposal_id: uuid.UUID, expires: dt.datetime) -> str:
    subject = base64.urlsafe_b64encode(proposal_id.bytes).decode().rstrip("=")
    return signed_links.sign(secret, KIND, subject, expires)


def proposal_of(secret: str, token: str, at: dt.datetime) -> uuid.UUID | None:
    """The proposal a valid, unexpired link names; None otherwise (altered, expired, malformed, of another kind)."""
    proposal = signed_links.subject_of(secret, KIND, PROPOSAL, token, at)
    return None if proposal is None else uuid.UUID(bytes=base64.urlsafe_b64decode(proposal + "=="))
