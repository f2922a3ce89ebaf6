"""The Hub Santé publisher: every booking, cancellation and outcome on our slots reaches the SAMU of the
slot's département as an RS-SAS-RDV message (app/hub/messages.py), over AMQP 0-9-1 (app/hub/broker.py).

It reads the same transactional outbox as the webhooks and the national-platform declarer, in the order
transactions became final (see app/fhir/declare.py), under its own cursor ("hub"): nothing is sent that
did not happen, nothing that happened is missed, the messages of one appointment go in the order they
happened. A message counts as sent when the broker confirms it (publisher confirms, ``mandatory``: a
message no queue takes is a failure, not a silent loss); only then does the cursor move past it, in the
same transaction that records it in ``hub_messages``. A broker that is down or refuses is tried again
with a growing pause (1 s, 2 s, 4 s … 60 s), from the same event: at least once, and the same
``distributionID`` on every attempt so that the LRM knows a repeat. One publisher at a time across
instances (an advisory lock). The LRM's answers are read beside it (app/hub/answers.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.hub import answers, messages
from app.hub.broker import Broker
from app.outbox import appointments as projection
from app.outbox import cursors
from app.platform.config import Settings
from app.platform.logging import log
from app.platform.periodic import every

CURSOR = "hub"
LOCK = 0x534E5048  # one publisher across every instance
BATCH = 50
MAX_PAUSE = 60.0

_RECORD = text("""
    INSERT INTO hub_messages (distribution_id, event_id, booking_id, recipient, method, status, sent_at)
    VALUES (:distribution_id, :event_id, :booking_id, :recipient, :method, :status, now())
    ON CONFLICT (distribution_id) DO UPDATE SET sent_at = now()""")


async def publish_once(sessionmaker: async_sessionmaker[AsyncSession], broker: Broker, settings: Settings) -> int:
    """One round: the final events after the cursor, sent in order until one fails; how many were settled
    (sent and confirmed, or set aside for good). Raises when the broker failed, after keeping what went."""
    ttl = dt.timedelta(seconds=settings.hub_message_ttl_seconds)
    failures: list[BaseException] = []

    async def handle(session: AsyncSession, event: RowMapping, row: Any) -> None:
        if row is None:
            return
        appointment = projection.told(row, event["kind"])
        if not appointment.ours_to_tell:  # an appointment an agenda declared to us: whoever booked it told the SAMU
            return
        recipient = settings.hub_samu_ids.get(appointment.departement)
        if recipient is None:
            log.warning("hub.no_samu", departement=appointment.departement)
            return
        unidentified = messages.unidentified(appointment)
        if unidentified is not None:  # RS-SAS-RDV's regulator is required: never one made up
            log.warning("hub.message_parked", booking_id=str(appointment.booking_id))
            raise cursors.Held("parked", unidentified)
        distribution = messages.distribution_id(settings.hub_sender_id, event["id"])
        content = messages.appointment(appointment)
        envelope = messages.report(sender=settings.hub_sender_id, recipient=recipient, distribution=distribution,
                                   appointment=content, sent=dt.datetime.now(dt.UTC), ttl=ttl)
        problems = messages.problems(envelope)
        if problems:  # never send what the Hub would refuse; said, and the next ones go on
            log.error("hub.invalid_message", booking_id=str(appointment.booking_id), problems=problems[:3])
            return
        try:
            await broker.publish(envelope)
        except Exception as exc:  # noqa: BLE001 - kept for the next round
            failures.append(exc)
            raise cursors.Deferred(type(exc).__name__) from exc
        await session.execute(_RECORD, {
            "distribution_id": distribution, "event_id": event["id"], "booking_id": appointment.booking_id,
            "recipient": recipient, "method": content["method"], "status": content["status"]})

    settled = await cursors.read_round(sessionmaker, name=CURSOR, lock=LOCK, batch=BATCH, rows=projection.rows,
                                       handle=handle)
    released = 0 if failures else await cursors.release_round(sessionmaker, name=CURSOR, lock=LOCK, batch=BATCH,
                                                                rows=projection.rows, handle=handle)
    if settled or released:
        log.info("hub.published", events=settled, released=released)
    if failures:
        await broker.close()
        raise failures[0]
    return settled


def start_in_background(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> Callable[
        [], Awaitable[None]]:
    """Publish every ``SNP_HUB_PUBLISH_SECONDS`` (at once again when a round was full; after a failure,
    pause 1, 2, 4 … 60 s) and listen to the answers."""
    broker = Broker(settings)
    state = {"failures": 0, "resume": 0.0}

    async def job() -> None:
        if time.monotonic() < state["resume"]:
            return
        try:
            while await publish_once(sessionmaker, broker, settings) >= BATCH:
                pass
        except Exception as exc:  # noqa: BLE001 - broker away or refusing: pause, then the same event again
            state["failures"] += 1
            pause = min(2.0 ** (state["failures"] - 1), MAX_PAUSE)
            state["resume"] = time.monotonic() + pause
            log.warning("hub.publish_deferred", error=type(exc).__name__, pause_seconds=pause)
            return
        state["failures"] = 0

    stop_rounds = every(settings.hub_publish_seconds, job, "hub.publish")
    stop_listening = asyncio.Event()
    listener = asyncio.create_task(answers.listen(sessionmaker, settings, stop_listening), name="snp-hub-listen")
    log.info("hub.started", sender=settings.hub_sender_id)

    async def stop() -> None:
        await stop_rounds()
        stop_listening.set()
        try:
            await asyncio.wait_for(listener, timeout=10)
        except TimeoutError:
            listener.cancel()
        await broker.close()

    return stop
