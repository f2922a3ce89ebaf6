"""The answers of the Hub Santé: the listener reads our ``<sender>.ack`` (RC-REF final acknowledgements of
the LRM) and ``<sender>.info`` (errors of the Hub or the LRM) queues and records each answer on the
message it names (``hub_messages``, written by app/hub/publisher.py when the broker confirmed it). It
reconnects by itself when the broker goes away, and an answer that arrives before its message's record
has committed goes back to the queue for a moment."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

from aio_pika.abc import AbstractConnection, AbstractIncomingMessage
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.hub import messages
from app.hub.broker import TIMEOUT, open_channel
from app.platform.config import Settings
from app.platform.logging import log

LISTEN_MAX_PAUSE = 10.0  # answers are light: look again for the broker every 10 s at most

_ACKNOWLEDGED = text("""
    UPDATE hub_messages SET acknowledged_at = now(), ack_step = :step, refused = :refused
    WHERE distribution_id = :distribution_id""")
_ERROR = text("""
    UPDATE hub_messages SET error_code = :code, error_cause = :cause, error_at = now()
    WHERE distribution_id = :distribution_id""")


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
            connection, channel = await open_channel(str(settings.hub_amqp_url))
            await asyncio.wait_for(channel.set_qos(prefetch_count=20), TIMEOUT)

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
                                               TIMEOUT)
                await asyncio.wait_for(queue.consume(on_message), TIMEOUT)
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

