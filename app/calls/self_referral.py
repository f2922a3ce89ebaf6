"""Self-referral: a patient reaches the regulation by a signed short link (printed as a QR code in a
pharmacy, a town hall, a waiting room) and leaves a callback number; a waiting call appears in the
territory's queue, channel ``autre``, referred by ``self``.

A link names its territory and when it expires, signed with HMAC-SHA256 (a key derived from
``SNP_JWT_SECRET``): nothing is stored, an altered or expired link is 404. Its use is rate limited
per client address (``self_referral`` in ``SNP_RATE_LIMITS``), and it only ever creates a waiting call
with a phone number: it reads nothing.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.principal import Principal
from app.calls.models import Call
from app.calls.schemas import ReferralLinkCreate, ReferralLinkRead, SelfReferralCreate, SelfReferralReceived
from app.calls.service import _visible_territory, due_at, now
from app.identity import crypto
from app.identity.sealing import sealed_columns
from app.platform import signed_links
from app.platform.errors import NotFound
from app.platform.logging import log
from app.territories import service as territory_service

PATH = "/v1/self-referrals/"
SUBJECT = "self-referral"
KIND = b"snp self-referral links"
# A territory's code.
TERRITORY = r"[0-9A-Za-z][0-9A-Za-z_-]{0,39}"


def sign(secret: str, territory: str, expires: dt.datetime) -> str:
    return signed_links.sign(secret, KIND, territory, expires)


def territory_of(secret: str, token: str, at: dt.datetime) -> str | None:
    """The territory a valid, unexpired link names; None otherwise."""
    return signed_links.subject_of(secret, KIND, TERRITORY, token, at)


async def create_link(
    session: AsyncSession, principal: Principal, data: ReferralLinkCreate, secret: str
) -> ReferralLinkRead:
    territory = await _visible_territory(session, principal, data.territory_code)
    expires = now().replace(microsecond=0) + dt.timedelta(days=data.days)
    token = sign(secret, territory.code, expires)
    audit.record(session, principal, "referral_link.created",
                 detail={"territory_code": territory.code, "expires_at": expires.isoformat()})
    return ReferralLinkRead(token=token, path=PATH + token, territory_code=territory.code, expires_at=expires)


async def receive(session: AsyncSession, token: str, data: SelfReferralCreate, secret: str) -> SelfReferralReceived:
    received = now()
    code = territory_of(secret, token, received)
    missing = NotFound("This link is unknown or has expired")
    if code is None:
        raise missing
    try:
        territory = await territory_service.get(session, code)
    except NotFound as exc:
        raise missing from exc
    call = Call(
        territory_code=territory.code, channel="autre", referrer_kind="self", received_at=received,
        due_at=due_at(territory, received, None), status="waiting", source="live", created_by=SUBJECT,
        patient_postcode=data.postcode,
        **sealed_columns(crypto.ring(), phone=data.phone, reason=data.reason),
    )
    session.add(call)
    await session.flush()
    log.info("call.self_referred", call_id=str(call.id), territory=territory.code)
    minutes = int((call.due_at - received).total_seconds() // 60) if call.due_at else None
    return SelfReferralReceived(territory_code=territory.code, callback_within_minutes=minutes)
