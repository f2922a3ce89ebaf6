"""The visit's report to the patient's médecin traitant: queued with the booking's outcome (in its transaction: a
table of its own, read by a sender), sent by secure mail (MSSanté: SMTP over TLS with the CPTS's applicative
mailbox's certificate) only while the call says the patient was told and did not object, retried with backoff and
given up at its time (the booking shows it). Withheld instead — never sent, its text emptied — when the patient
objected or was not asked, the call names no médecin traitant, or the identity was purged first."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.identity import crypto
from app.identity.sealing import open_json, seal_json
from app.notices import report_documents, trail
from app.notices.providers import Mailer, Undelivered
from app.platform.config import Settings
from app.platform.logging import log
from app.platform.periodic import every

BATCH = 20
LEASE_SECONDS = 120.0
CHANNEL = "mssante"


def withheld_why(gp_report: str | None, general_practitioner: dict[str, Any] | None,
                 purged: bool) -> str | None:
    """Why a report must not go to the médecin traitant, else None."""
    if purged:
        return "the patient's identity was purged"
    if gp_report == "objected":
        return "the patient objected to the report being sent"
    if gp_report != "not_objected":
        return "the patient was not asked whether the report may be sent"
    if not general_practitioner or not general_practitioner.get("mssante_address"):
        return "the call names no médecin traitant with an MSSanté address"
    return None


_CALL = text("SELECT general_practitioner, gp_report, purged_at FROM calls WHERE id = :id")
_QUEUE = text("""
    INSERT INTO gp_reports (booking_id, call_id, author, practitioner_id, report, traits, state, last_error,
                            give_up_at)
    VALUES (:booking_id, :call_id, :author, :practitioner_id, :report, :traits, :state, :why,
            now() + make_interval(secs => :give_up))""")


async def queue(session: AsyncSession, *, booking_id: uuid.UUID, call_id: uuid.UUID, author: str,
                practitioner_id: uuid.UUID, report: str, traits: dict[str, Any], give_up_seconds: float) -> str:
    """Queue the report of a booking's visit (sealed), or record it withheld without its text; its state."""
    ring = crypto.ring()
    call = (await session.execute(_CALL, {"id": call_id})).mappings().one()
    why = withheld_why(call["gp_report"], open_json(ring, call["general_practitioner"], "general_practitioner"),
                       call["purged_at"] is not None)
    state = "pending" if why is None else "withheld"
    await session.execute(_QUEUE, {
        "booking_id": booking_id, "call_id": call_id, "author": author, "practitioner_id": practitioner_id,
        "report": ring.seal(report, "report") if why is None else None,
        "traits": seal_json(ring, traits, "traits") if why is None else None,
        "state": state, "why": why, "give_up": give_up_seconds})
    return state


_PURGE = text("""
    UPDATE gp_reports r SET report = NULL, traits = NULL
    FROM calls c
    WHERE c.id = r.call_id AND c.received_at < :cutoff AND (r.report IS NOT NULL OR r.traits IS NOT NULL)""")


async def purge(session: AsyncSession, cutoff: dt.datetime) -> int:
    """Empty the reports and identity traits of calls received before ``cutoff`` (with the call's identity: one
    not sent yet is then withheld by the sender); how many."""
    result = await session.execute(_PURGE, {"cutoff": cutoff})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


_OF_BOOKING = text("""
    SELECT id, state, attempts, created_at, sent_at, failed_at, last_error FROM gp_reports
    WHERE booking_id = :booking_id""")


async def of_booking(session: AsyncSession, booking_id: uuid.UUID) -> RowMapping | None:
    return (await session.execute(_OF_BOOKING, {"booking_id": booking_id})).mappings().first()


_CLAIM = text("""
    WITH due AS (
        SELECT id FROM gp_reports WHERE state = 'pending' AND next_attempt_at <= now()
        ORDER BY next_attempt_at LIMIT :batch FOR UPDATE SKIP LOCKED)
    UPDATE gp_reports r SET next_attempt_at = now() + make_interval(secs => :lease)
    FROM due WHERE r.id = due.id
    RETURNING r.id""")
# What the message says, read when it is sent: the report, the visit, its doctor and place, and the médecin
# traitant and the patient's word as the call holds them now.
_CONTEXT = text("""
    SELECT r.id, r.booking_id, r.call_id, r.author, r.report, r.traits, s.start_at, t.timezone,
           t.name AS territory_name, si.name AS site_name, p.rpps, p.given_name, p.family_name,
           c.general_practitioner, c.gp_report, c.purged_at
    FROM gp_reports r JOIN bookings b ON b.id = r.booking_id JOIN slots s ON s.id = b.slot_id
    JOIN sites si ON si.id = s.site_id JOIN territories t ON t.code = s.territory_code
    JOIN practitioners p ON p.id = r.practitioner_id JOIN calls c ON c.id = r.call_id
    WHERE r.id = :id AND r.state = 'pending'
    FOR UPDATE OF r""")
_SENT = text("UPDATE gp_reports SET state = 'sent', sent_at = now(), attempts = attempts + 1, last_error = NULL "
             "WHERE id = :id AND state = 'pending'")
_WITHHELD = text("UPDATE gp_reports SET state = 'withheld', report = NULL, traits = NULL, last_error = :why "
                 "WHERE id = :id AND state = 'pending'")
_FAILED = text("""
    UPDATE gp_reports SET attempts = attempts + 1, last_error = :why,
        state = CASE WHEN now() >= give_up_at THEN 'failed' ELSE 'pending' END,
        failed_at = CASE WHEN now() >= give_up_at THEN now() END,
        next_attempt_at = now() + make_interval(secs => least(:base * power(2, attempts), :cap))
    WHERE id = :id AND state = 'pending'
    RETURNING state""")


def mailer_for(settings: Settings) -> Mailer | None:
    """The CPTS's applicative mailbox on its MSSanté operator's server, with its certificate."""
    if not settings.mssante_smtp_url or not settings.mssante_from:
        return None
    return Mailer(settings.mssante_smtp_url, settings.mssante_from, settings.smtp_timeout_seconds,
                  ca_file=settings.mssante_ca_file, client_cert=settings.mssante_client_cert,
                  client_key=settings.mssante_client_key)


def document(ctx: RowMapping) -> report_documents.Report:
    ring = crypto.ring()
    traits = open_json(ring, ctx["traits"], "traits") or {}
    gp = open_json(ring, ctx["general_practitioner"], "general_practitioner") or {}
    return report_documents.Report(
        id=ctx["id"], text=ring.open(ctx["report"], "report") or "",
        traits=report_documents.Traits(birth_name=traits["birth_name"], given_name=traits["given_name"],
                                       birth_date=dt.date.fromisoformat(traits["birth_date"]), sex=traits["sex"]),
        visit=ctx["start_at"], timezone=ctx["timezone"], author_rpps=ctx["rpps"], author_given=ctx["given_name"],
        author_family=ctx["family_name"], site_name=ctx["site_name"], territory_name=ctx["territory_name"],
        gp_address=gp["mssante_address"], gp_rpps=gp.get("rpps"), gp_family=gp.get("family_name"),
        gp_given=gp.get("given_name"), patient_key=str(ctx["call_id"]))


async def send_once(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings,
                    mailer: Mailer | None) -> int:
    """One round: claim the due reports, send each, record what happened; how many went."""
    async with sessionmaker() as session, session.begin():
        claimed = [row[0] for row in (await session.execute(_CLAIM, {"batch": BATCH, "lease": LEASE_SECONDS}))]
    went = 0
    for report_id in claimed:
        async with sessionmaker() as session, session.begin():
            # Locked and read again now: a report withheld (or sent by another instance) meanwhile is left alone.
            ctx = (await session.execute(_CONTEXT, {"id": report_id})).mappings().one_or_none()
            if ctx is None:
                continue
            why = withheld_why(ctx["gp_report"], open_json(crypto.ring(), ctx["general_practitioner"],
                                                           "general_practitioner"), ctx["purged_at"] is not None)
            if why is not None:
                await session.execute(_WITHHELD, {"id": report_id, "why": why})
                log.info("gp_report.withheld", report_id=str(report_id), why=why)
                continue
            try:
                if mailer is None:
                    raise Undelivered("no MSSanté server configured (SNP_MSSANTE_SMTP_URL)")
                await mailer.send(report_documents.email(document(ctx), mailer.sender))
            except Exception as error:  # noqa: BLE001 - a report that cannot be built or handed over fails alone
                exc = error if isinstance(error, Undelivered) else Undelivered(
                    f"could not be sent ({type(error).__name__})")
                state = str((await session.execute(_FAILED, {
                    "id": report_id, "why": str(exc)[:500], "base": settings.notice_retry_seconds,
                    "cap": settings.notice_retry_max_seconds})).scalar_one())
                log.warning("gp_report.undelivered", report_id=str(report_id), error=str(exc),
                            given_up=state == "failed")
                if state == "failed":
                    trail.record(session, call_id=ctx["call_id"], booking_id=ctx["booking_id"], message_id=report_id,
                                 kind="gp_report", channel=CHANNEL, delivered=False, by=ctx["author"])
                continue
            await session.execute(_SENT, {"id": report_id})
            trail.record(session, call_id=ctx["call_id"], booking_id=ctx["booking_id"], message_id=report_id,
                         kind="gp_report", channel=CHANNEL, delivered=True, by=ctx["author"])
            went += 1
            log.info("gp_report.sent", report_id=str(report_id), booking_id=str(ctx["booking_id"]))
    return went


def start_in_background(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> Callable[
        [], Awaitable[None]]:
    """Every ``SNP_NOTICE_SECONDS``: send the reports that are due."""
    mailer = mailer_for(settings)

    async def round_() -> None:
        while await send_once(sessionmaker, settings, mailer) >= BATCH:
            pass

    log.info("gp_reports.sender_started", mssante=mailer is not None)
    return every(settings.notice_seconds, round_, "gp_reports.send")
