"""The sender of the patient's messages: claims the due ones (a booking's in order), renders each from the
booking and the call as they are now, hands it to its provider, and records what happened. A provider that
fails ends its channel's round (the messages it did not try wait for the next one, untouched); a failed message
is tried again with backoff, and given up at its time (``failed``: shown on the call and in /metrics). A reminder
goes at its time and never late: past its time to give up (the night, the appointment's start) it is not sent.
"Now" is the database's, as the queueing reads it (``repository.NOW``).

Each message carries its id (the e-mail's Message-ID, the SMS gateway's tag): a receiver that gets it twice (the
sender died between the provider's answer and its record) knows it is the same message."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.identity import crypto
from app.notices import links, messages, reader, repository, trail
from app.notices.providers import Mailer, SmsProvider, Undelivered, mailer_for, sms_for
from app.platform.config import Settings
from app.platform.logging import log
from app.platform.periodic import every
from app.reference.identifiers import mobile_e164

BATCH = 50
LEASE_SECONDS = 120.0


@dataclass
class Outbound:
    """What the sender needs: its providers, and the settings the messages are written with."""

    settings: Settings
    mailer: Mailer | None = None
    sms: SmsProvider | None = None

    @classmethod
    def of(cls, settings: Settings) -> Outbound:
        return cls(settings=settings, mailer=mailer_for(settings), sms=sms_for(settings))


def appointment(outbound: Outbound, notice: RowMapping, ctx: RowMapping, now: dt.datetime) -> messages.Appointment:
    settings = outbound.settings
    cancellable = notice["kind"] != "cancellation" and ctx["status"] == "active" and ctx["start_at"] > now
    year = ctx["start_at"].year
    child = ctx["audience"] == "children" or (
        ctx["patient_birth_year"] is not None and year - ctx["patient_birth_year"] < messages.CHILD_AGE)
    return messages.Appointment(
        booking_id=ctx["id"], message_id=notice["id"], kind=notice["kind"], start=ctx["start_at"], end=ctx["end_at"],
        timezone=ctx["timezone"], mode=ctx["mode"], doctor_given=ctx["given_name"], doctor_family=ctx["family_name"],
        site_name=ctx["site_name"], address=ctx["address"], postcode=ctx["postcode"], child=child,
        cancel_url=links.url(settings.base_url, settings.link_secret, ctx["id"], ctx["start_at"]) if cancellable
        else None,
        phone=settings.notice_phone, sender=settings.sms_sender)


def _withdrawn_why(notice: RowMapping, ctx: RowMapping | None) -> str | None:
    """Why the message must not go now (its booking gone, the consent or the channel withdrawn), else None."""
    if ctx is None or ctx["purged_at"] is not None:
        return "the patient's identity was purged"
    if notice["channel"] not in reader.CHANNELS[ctx["notify"]]:
        return "the patient no longer wants to be told on this channel"
    if notice["kind"] != "cancellation" and ctx["status"] != "active":
        return "cancelled before it was sent"
    return None


async def _deliver(outbound: Outbound, notice: RowMapping, ctx: RowMapping, now: dt.datetime) -> str | None:
    """Hand the message to its provider: None when it went, else why not (``Undelivered``), and "withdrawn: …"
    when there is nowhere to send it."""
    ring = crypto.ring()
    appt = appointment(outbound, notice, ctx, now)
    if notice["channel"] == "email":
        address = ring.open(ctx["patient_email"], "patient_email")
        if not address:
            return "withdrawn: no e-mail address"
        if outbound.mailer is None:
            raise Undelivered("no SMTP server configured (SNP_SMTP_URL)")
        await outbound.mailer.send(messages.email(appt, outbound.settings.smtp_from, address))
        return None
    number = mobile_e164(ring.open(ctx["patient_phone"], "patient_phone"))
    if number is None:
        return "withdrawn: no mobile number"
    if outbound.sms is None:
        raise Undelivered("no SMS provider configured (SNP_SMS_URL or SNP_SMS_SINK)")
    await outbound.sms.send(str(notice["id"]), number, messages.sms(appt))
    return None


def _audited(session: AsyncSession, notice: RowMapping, *, delivered: bool) -> None:
    trail.record(session, call_id=notice["call_id"], booking_id=notice["booking_id"], message_id=notice["id"],
                 kind=notice["kind"], channel=notice["channel"], delivered=delivered)


async def send_once(sessionmaker: async_sessionmaker[AsyncSession], outbound: Outbound) -> int:
    """One round: claim, send, record each as soon as it is known; how many messages went."""
    settings = outbound.settings
    clock = settings.notice_clock_offset_seconds
    async with sessionmaker() as session, session.begin():
        claimed = await repository.claim(session, BATCH, LEASE_SECONDS, clock)
        if not claimed:
            return 0
    went = 0
    down: set[str] = set()
    for notice in claimed:
        async with sessionmaker() as session, session.begin():
            # Locked and read again now, not when the round began: an opt-out, a cancellation or a withdrawn
            # consent that came meanwhile is obeyed, and another instance's sending is never repeated.
            if not await repository.still_pending(session, notice["id"]):
                continue
            ctx = (await repository.contexts(session, [notice["booking_id"]])).get(notice["booking_id"])
            why = _withdrawn_why(notice, ctx)
            if why is not None:
                await repository.withdrawn(session, notice["id"], why)
                continue
            if notice["kind"] == "reminder" and notice["clock"] >= notice["give_up_at"]:
                await repository.too_late(session, notice["id"], "not sent in time (the night or the appointment "
                                          "came first)", clock)
                continue
            if notice["channel"] in down:  # its provider failed this round: not tried, not counted
                await repository.released(session, notice["id"], clock)
                continue
            assert ctx is not None
            try:
                outcome = await _deliver(outbound, notice, ctx, notice["clock"])
            except Exception as error:  # noqa: BLE001 - a message that cannot be built or handed over fails alone
                exc = error if isinstance(error, Undelivered) else Undelivered(
                    f"could not be sent ({type(error).__name__})")
                down.add(notice["channel"])
                state = await repository.failed(session, notice["id"], str(exc), settings.notice_retry_seconds,
                                                settings.notice_retry_max_seconds, clock)
                log.warning("notice.undelivered", notice_id=str(notice["id"]), channel=notice["channel"],
                            error=str(exc), given_up=state == "failed")
                if state == "failed":
                    _audited(session, notice, delivered=False)
                continue
            if outcome is not None:
                await repository.withdrawn(session, notice["id"], outcome.removeprefix("withdrawn: "))
                continue
            await repository.sent(session, notice["id"], clock)
            _audited(session, notice, delivered=True)
            went += 1
            log.info("notice.sent", notice_id=str(notice["id"]), booking_id=str(notice["booking_id"]),
                     kind=notice["kind"], channel=notice["channel"])
    return went


async def run_once(sessionmaker: async_sessionmaker[AsyncSession], outbound: Outbound) -> int:
    """Queue what the outbox says, then send what is due; how many messages went."""
    settings = outbound.settings
    while await reader.read_once(sessionmaker, settings.notice_give_up_seconds,
                                 reminder_before=settings.reminder_before,
                                 clock=settings.notice_clock_offset_seconds) >= reader.BATCH:
        pass
    went = 0
    while (sent := await send_once(sessionmaker, outbound)) > 0:
        went += sent
        if sent < BATCH:
            break
    return went


def start_in_background(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> Callable[
        [], Awaitable[None]]:
    """Every ``SNP_NOTICE_SECONDS``: queue from the outbox, send what is due."""
    outbound = Outbound.of(settings)
    stop_rounds = every(settings.notice_seconds, lambda: run_once(sessionmaker, outbound), "notices.send")
    log.info("notices.sender_started", email=outbound.mailer is not None, sms=outbound.sms is not None)

    async def stop() -> None:
        await stop_rounds()
        close: Any = getattr(outbound.sms, "close", None)
        if close is not None:
            await close()

    return stop
