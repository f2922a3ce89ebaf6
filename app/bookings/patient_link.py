"""The patient's one-click cancellation, from the link in his confirmation (app/notices/links.py): a GET shows the
appointment and a button and changes nothing; a POST cancels through the one cancellation path
(``service.cancel_booking``: the slot freed, the booking cancelled by the patient, the call back to
``to_reorient``); a second POST says it is already done. While a reminder is still to come, the page also offers
to receive none (``POST /p/{token}/no-reminder``: the booking's pending reminders withdrawn)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.bookings import repository, service
from app.notices import links, page
from app.notices import repository as notices
from app.platform.config import Settings
from app.platform.errors import Conflict
from app.platform.logging import log

SUB = "patient"  # who cancelled: the patient himself, through his link
REASON = "annulé par le patient (lien du message de confirmation)"


async def show(session: AsyncSession, token: str, settings: Settings, *, act: bool) -> tuple[int, str]:
    """The page for ``token`` (status, HTML); ``act``: cancel (a POST)."""
    phone = settings.notice_phone
    booking_id = links.booking_of(settings.link_secret, token, dt.datetime.now(dt.UTC))
    row = None if booking_id is None else await repository.booking_with_slot(session, booking_id)
    if booking_id is None or row is None:
        return 404, page.unknown(phone)
    ctx = (await notices.contexts(session, [booking_id]))[booking_id]
    if row["status"] != "active" or row["outcome"] is not None:
        return 200, page.already(ctx, phone, outcome=row["outcome"] is not None)
    if not act:
        reminder = await notices.pending_reminders(session, booking_id) > 0
        return 200, page.confirm(ctx, links.PATH + token, phone, reminder=reminder)
    try:
        await service.cancel_booking(session, row, sub=SUB, role=SUB, reason=REASON)
    except Conflict:  # cancelled meanwhile (a second click, the regulation)
        return 200, page.already(ctx, phone, outcome=False)
    audit.record(session, None, "booking.cancelled_by_patient", call_id=row["call_id"],
                 detail={"booking_id": str(booking_id)})
    log.info("booking.cancelled_by_patient", booking_id=str(booking_id))
    return 200, page.cancelled_now(ctx, phone)


async def stop_reminders(session: AsyncSession, token: str, settings: Settings) -> tuple[int, str]:
    """The patient's opt-out: the reminders of the booking ``token`` names, not sent yet, withdrawn (status, HTML).
    Again, or once sent: the same page (nothing left to stop)."""
    phone = settings.notice_phone
    booking_id = links.booking_of(settings.link_secret, token, dt.datetime.now(dt.UTC))
    row = None if booking_id is None else await repository.booking_with_slot(session, booking_id)
    if booking_id is None or row is None:
        return 404, page.unknown(phone)
    ctx = (await notices.contexts(session, [booking_id]))[booking_id]
    if row["status"] != "active" or row["outcome"] is not None:
        return 200, page.already(ctx, phone, outcome=row["outcome"] is not None)
    if await notices.withdraw_pending(session, booking_id, ["reminder"], "the patient asked for no reminder"):
        audit.record(session, None, "booking.reminders_stopped_by_patient", call_id=row["call_id"],
                     detail={"booking_id": str(booking_id)})
        log.info("booking.reminders_stopped_by_patient", booking_id=str(booking_id))
    return 200, page.reminders_stopped(ctx, phone)
