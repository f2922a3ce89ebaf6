"""The live stream: what PostgreSQL announces on ``snp_calls`` (a call entered, taken, to re-orient,
closed: migration 0017 and the cancellation statement), fanned out to the consoles of each territory.

One instance keeps one listening connection (taken from its pool when the first console subscribes)
and one queue per console; a console receives the events of its territories only. Payloads never
carry a patient's identity. A console that cannot keep up is dropped (it reconnects and reloads); a
lost connection is taken again on the next check.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.calls.repository import CALL_EVENTS_CHANNEL
from app.logging import log

QUEUE_SIZE = 500
CHECK_SECONDS = 2.0


@dataclass(eq=False)
class Subscriber:
    territories: frozenset[str] | None  # None: every territory
    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))

    def wants(self, event: dict[str, Any]) -> bool:
        return self.territories is None or event.get("territory_code") in self.territories


class Hub:
    def __init__(self, engine: AsyncEngine, max_subscribers: int) -> None:
        self.engine = engine
        self.max_subscribers = max_subscribers
        self.subscribers: set[Subscriber] = set()
        self._connection: AsyncConnection | None = None
        self._driver: Any = None
        self._watch: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def full(self) -> bool:
        return len(self.subscribers) >= self.max_subscribers

    def _deliver(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            event = json.loads(payload)
        except ValueError:
            return
        for subscriber in list(self.subscribers):
            if subscriber.wants(event):
                try:
                    subscriber.queue.put_nowait(event)
                except asyncio.QueueFull:
                    # too slow: its stream ends, the console reconnects and reloads
                    self.subscribers.discard(subscriber)
                    with contextlib.suppress(asyncio.QueueFull):
                        subscriber.queue.put_nowait(None)

    async def _listen(self) -> None:
        async with self._lock:
            if self._driver is not None and not self._driver.is_closed():
                return
            await self._release()
            self._connection = await self.engine.connect()
            raw = await self._connection.get_raw_connection()
            self._driver = raw.driver_connection
            await self._driver.add_listener(CALL_EVENTS_CHANNEL, self._deliver)
            log.info("live.listening", channel=CALL_EVENTS_CHANNEL)

    async def _release(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                if self._driver is not None and not self._driver.is_closed():
                    await self._driver.remove_listener(CALL_EVENTS_CHANNEL, self._deliver)
                await self._connection.invalidate()
                await self._connection.close()
        self._connection = self._driver = None

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(CHECK_SECONDS)
            if self.subscribers and (self._driver is None or self._driver.is_closed()):
                try:
                    await self._listen()
                except Exception as exc:  # noqa: BLE001 - the next check tries again
                    log.error("live.listen_failed", error=type(exc).__name__)

    async def subscribe(self, territories: frozenset[str] | None) -> Subscriber:
        await self._listen()
        if self._watch is None:
            self._watch = asyncio.create_task(self._watchdog(), name="snp-live-watchdog")
        subscriber = Subscriber(territories)
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    async def events(self, subscriber: Subscriber) -> AsyncIterator[dict[str, Any]]:
        try:
            while True:
                event = await subscriber.queue.get()
                if event is None:
                    return
                yield event
        finally:
            self.unsubscribe(subscriber)

    async def close(self) -> None:
        for subscriber in list(self.subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                subscriber.queue.put_nowait(None)
        self.subscribers.clear()
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        await self._release()
