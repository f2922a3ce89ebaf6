"""The Hub Santé publisher: every booking, cancellation and outcome on our slots reaches the SAMU of the
slot's département as an RS-SAS-RDV message (app/hub/messages.py), over AMQP 0-9-1.

It reads the same transactional outbox as the webhooks and the national-platform declarer, in the order
transactions became final (see app/fhir/declare.py), under its own cursor ("hub"): nothing is sent that
did not happen, nothing that happened is missed, the messages of one appointment go in the order they
happened. A message counts as sent when the broker confirms it (publisher confirms, ``mandatory``: a
message no queue takes is a failure, not a silent loss); only then does the cursor move past it, in the
same transaction that records it in ``hub_messages``. A broker that is down or refuses is tried again
with a growing pause (1 s, 2 s, 4 s … 60 s), from the same event: at least once, and the same
``distributionID`` on every attempt so that the LRM knows a repeat. One publisher at a time across
instances (an advisory lock).

The listener reads our ``<sender>.ack`` (RC-REF final acknowledgements of the LRM) and ``<sender>.info``
(errors of the Hub or the LRM) queues and records each answer on the message it names.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange, AbstractIncomingMessage
from pamqp.commands import Basic
from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.hub import messages
from app.outbox import cursors
from app.platform.config import Settings
from app.platform.logging import log
from app.platform.periodic import every

CURSOR = "hub"
LOCK = 0x534E5048  # one publisher across every instance
BATCH = 50
PUBLISH_TIMEOUT = 10.0
MAX_PAUSE = 60.0
LISTEN_MAX_PAUSE = 10.0  # answers are light: look again for the broker every 10 s at most

_ROWS = text("""
    SELECT b.id, b.outcome, b.created_at, b.created_by, s.start_at, s.end_at,
           p.rpps, p.family_name, p.given_name, p.specialty_code, p.profession_code,
           si.kind AS site_kind, t.kind AS territory_kind, t.name AS territory_name, t.finess, t.timezone,
           COALESCE(t.parent_code, t.code) AS departement,
           u.family_name AS operator_family_name, u.given_name AS operator_given_name, u.email AS operator_email,
           u.display_name AS operator_display_name, d.system
    FROM bookings b JOIN slots s ON s.id = b.slot_id JOIN practitioners p ON p.id = s.practitioner_id
    JOIN sites si ON si.id = s.site_id JOIN territories t ON t.code = s.territory_code
    LEFT JOIN users u ON u.subject = b.created_by
    LEFT JOIN declared_appointments d ON d.booking_id = b.id
    WHERE b.id = ANY(:ids)""")
_RECORD = text("""
    INSERT INTO hub_messages (distribution_id, event_id, booking_id, recipient, method, status, sent_at)
    VALUES (:distribution_id, :event_id, :booking_id, :recipient, :method, :status, now())
    ON CONFLICT (distribution_id) DO UPDATE SET sent_at = now()""")
_ACKNOWLEDGED = text("""
    UPDATE hub_messages SET acknowledged_at = now(), ack_step = :step, refused = :refused
    WHERE distribution_id = :distribution_id""")
_ERROR = text("""
    UPDATE hub_messages SET error_code = :code, error_cause = :cause, error_at = now()
    WHERE distribution_id = :distribution_id""")


async def _open(url: str) -> tuple[AbstractConnection, AbstractChannel]:
    """A connection and a confirming channel, each step bounded by hand: a broker still starting can
    accept the connection and not answer it."""
    connection = await asyncio.wait_for(aio_pika.connect(url, timeout=PUBLISH_TIMEOUT), PUBLISH_TIMEOUT)
    channel = await asyncio.wait_for(connection.channel(publisher_confirms=True), PUBLISH_TIMEOUT)
    return connection, channel


class Broker:
    """One connection and confirming channel to the Hub, opened when needed and dropped on any failure."""

    def __init__(self, settings: Settings) -> None:
        self.url = str(settings.hub_amqp_url)
        self.exchange_name = settings.hub_exchange
        self.routing_key = settings.hub_sender_id
        self._connection: AbstractConnection | None = None
        self._exchange: AbstractExchange | None = None

    async def exchange(self) -> AbstractExchange:
        if self._exchange is None:
            self._connection, channel = await _open(self.url)
            self._exchange = (await channel.get_exchange(self.exchange_name, ensure=False) if self.exchange_name
                              else channel.default_exchange)
        return self._exchange

    async def publish(self, envelope: dict[str, Any]) -> None:
        """Returns once the broker has confirmed the message (persistent, routed to a queue), or raises."""
        exchange = await self.exchange()
        body = json.dumps(envelope, ensure_ascii=False).encode()
        message = aio_pika.Message(body, content_type="application/json", content_encoding="utf-8",
                                   delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                   message_id=envelope["distributionID"])
        confirmation = await exchange.publish(message, routing_key=self.routing_key, mandatory=True,
                                              timeout=PUBLISH_TIMEOUT)
        if confirmation is not None and not isinstance(confirmation, Basic.Ack):
            raise ConnectionError(f"the broker did not take the message ({type(confirmation).__name__})")

    async def close(self) -> None:
        connection, self._connection, self._exchange = self._connection, None, None
        if connection is not None:
            try:
                await connection.close()
            except Exception:  # noqa: BLE001 - already gone
                pass


async def publish_once(sessionmaker: async_sessionmaker[AsyncSession], broker: Broker, settings: Settings) -> int:
    """One round: the final events after the cursor, sent in order until one fails; how many were settled
    (sent and confirmed, or set aside for good). Raises when the broker failed, after keeping what went."""
    ttl = dt.timedelta(seconds=settings.hub_message_ttl_seconds)
    failures: list[BaseException] = []

    async def rows(session: AsyncSession, ids: list[Any]) -> dict[Any, RowMapping]:
        return {row["id"]: row for row in (await session.execute(_ROWS, {"ids": ids})).mappings()}

    async def handle(session: AsyncSession, event: RowMapping, row: Any) -> None:
        # An appointment an agenda declared to us was told to the SAMU by whoever booked it.
        if row is None or row["system"] is not None:
            return
        recipient = settings.hub_samu_ids.get(row["departement"])
        if recipient is None:
            log.warning("hub.no_samu", departement=row["departement"])
            return
        distribution = messages.distribution_id(settings.hub_sender_id, event["id"])
        content = messages.appointment(row, event["kind"])
        envelope = messages.report(sender=settings.hub_sender_id, recipient=recipient, distribution=distribution,
                                   appointment=content, sent=dt.datetime.now(dt.UTC), ttl=ttl)
        problems = messages.problems(envelope)
        if problems:  # never send what the Hub would refuse; said, and the next ones go on
            log.error("hub.invalid_message", booking_id=str(row["id"]), problems=problems[:3])
            return
        try:
            await broker.publish(envelope)
        except Exception as exc:  # noqa: BLE001 - kept for the next round
            failures.append(exc)
            raise cursors.Deferred(type(exc).__name__) from exc
        await session.execute(_RECORD, {
            "distribution_id": distribution, "event_id": event["id"], "booking_id": row["id"],
            "recipient": recipient, "method": content["method"], "status": content["status"]})

    settled = await cursors.read_round(sessionmaker, name=CURSOR, lock=LOCK, batch=BATCH, rows=rows, handle=handle)
    if settled:
        log.info("hub.published", events=settled)
    if failures:
        await broker.close()
        raise failures[0]
    return settled


class NotRecordedYet(Exception):
    """An answer to a message whose sending is not committed here yet: the LRM can acknowledge a message
    before the round that sent it has committed its record. The answer goes back to the queue."""


ANSWER_PATIENCE = dt.timedelta(minutes=5)  # an answer to a message still unknown after this is dropped
ANSWER_RETRY_SECONDS = 0.5


def _young(envelope: dict[str, Any]) -> bool:
    try:
        sent = dt.datetime.fromisoformat(str(envelope.get("dateTimeSent")))
    except ValueError:
        return False
    if sent.tzinfo is None:
        return False
    return dt.datetime.now(dt.UTC) - sent < ANSWER_PATIENCE


async def record_answer(sessionmaker: async_sessionmaker[AsyncSession], body: bytes) -> str:
    """An answer read from our ack or info queue, recorded on the message it names; what it was. Raises
    ``NotRecordedYet`` for a recent answer to a message not recorded yet (to be read again shortly)."""
    try:
        envelope = json.loads(body)
    except ValueError:
        log.warning("hub.unreadable_answer")
        return "unreadable"
    if not isinstance(envelope, dict):
        return "unreadable"
    message = messages.content(envelope)
    reference = message.get("reference")
    error = message.get("error")
    async with sessionmaker() as session, session.begin():
        if isinstance(reference, dict) and isinstance(reference.get("distributionID"), str):
            step = reference.get("step")
            done = await session.execute(_ACKNOWLEDGED, {"distribution_id": reference["distributionID"],
                                                         "step": step if isinstance(step, str) else None,
                                                         "refused": bool(reference.get("refused", False))})
            return _recorded(done, envelope, "ack")
        if isinstance(error, dict) and isinstance(error.get("referencedDistributionID"), str):
            code = error.get("errorCode")
            status = code.get("statusCode") if isinstance(code, dict) else None
            label = code.get("statusString") if isinstance(code, dict) else None
            cause = error.get("errorCause")
            done = await session.execute(_ERROR, {
                "distribution_id": error["referencedDistributionID"],
                "code": int(status) if isinstance(status, int | float) else None,
                "cause": " — ".join(str(x) for x in (label, cause) if x)[:2000] or None})
            what = _recorded(done, envelope, "error")
            if what == "error":
                log.warning("hub.error_received", code=status, label=label)
            return what
    log.warning("hub.unknown_answer", kind=envelope.get("distributionKind"))
    return "unknown"


def _recorded(done: Any, envelope: dict[str, Any], what: str) -> str:
    if done.rowcount:
        return what
    if _young(envelope):
        raise NotRecordedYet(what)
    log.warning("hub.answer_to_unknown_message", kind=envelope.get("distributionKind"))
    return "unknown_message"


async def listen(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings,
                 stop: asyncio.Event) -> None:
    """Consume our ack and info queues until ``stop``; reconnects by itself when the broker goes away."""
    pause = 1.0
    while not stop.is_set():
        connection: AbstractConnection | None = None
        try:
            # Every step bounded: a broker still starting can accept a connection and answer nothing.
            connection, channel = await _open(str(settings.hub_amqp_url))
            await asyncio.wait_for(channel.set_qos(prefetch_count=20), PUBLISH_TIMEOUT)

            async def on_message(message: AbstractIncomingMessage) -> None:
                try:
                    await record_answer(sessionmaker, message.body)
                except NotRecordedYet:  # its message's record commits in a moment: read it again then
                    await asyncio.sleep(ANSWER_RETRY_SECONDS)
                    await message.nack(requeue=True)
                    return
                except Exception as exc:  # noqa: BLE001 - the database is away: the message stays queued
                    log.error("hub.answer_not_recorded", error=type(exc).__name__)
                    await asyncio.sleep(1.0)
                    await message.nack(requeue=True)
                    return
                await message.ack()

            for kind in ("ack", "info"):
                queue = await asyncio.wait_for(channel.get_queue(f"{settings.hub_sender_id}.{kind}", ensure=True),
                                               PUBLISH_TIMEOUT)
                await asyncio.wait_for(queue.consume(on_message), PUBLISH_TIMEOUT)
            lost = asyncio.Event()
            connection.close_callbacks.add(lambda *_, lost=lost: lost.set())
            log.info("hub.listening")
            pause = 1.0
            waits = {asyncio.ensure_future(lost.wait()), asyncio.ensure_future(stop.wait())}
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for waiting in waits:
                waiting.cancel()
            if lost.is_set():
                log.warning("hub.listen_lost")
        except Exception as exc:  # noqa: BLE001 - broker away: try again
            log.warning("hub.listen_failed", error=type(exc).__name__)
        finally:
            if connection is not None and not connection.is_closed:
                try:
                    await connection.close()
                except Exception:  # noqa: BLE001 - already gone
                    pass
        if not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=pause)
            except TimeoutError:
                pass
            pause = min(pause * 2, LISTEN_MAX_PAUSE)


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
    listener = asyncio.create_task(listen(sessionmaker, settings, stop_listening), name="snp-hub-listen")
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
