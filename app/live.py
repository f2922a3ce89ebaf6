"""The live stream: the changes of calls a regulator must see at once (a call entered, taken, to
re-orient, closed), told to the consoles of each territory.

Nothing is written for it: writes pay nothing (a ``NOTIFY`` from a trigger halved the booking
throughput, its commit lock serialising every booking; a table of changes cost as much). While a
console listens, each instance of the app reads the open calls of its consoles' territories twice a
second (the partial index ``ix_calls_open`` holds them) and tells each console what changed in its
territories: ``call.created``, ``call.updated`` (status or who has it; ``closed`` when it leaves the
open calls) and ``call.to_reorient`` (with the cancelled booking). Never a patient's identity. A
console that cannot keep up is dropped (it reconnects and reloads).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.logging import log

QUEUE_SIZE = 500
POLL_SECONDS = 0.5

_OPEN = text("""
    SELECT id, territory_code, status, assigned_to, priority, due_at, reorient_booking_id
    FROM calls
    WHERE status <> 'closed' AND (CAST(:everywhere AS boolean) OR territory_code = ANY(CAST(:codes AS text[])))
""")


@dataclass(frozen=True)
class OpenCall:
    territory_code: str
    status: str
    assigned_to: str | None
    priority: str | None
    due_at: dt.datetime | None
    reorient_booking_id: Any


@dataclass(eq=False)
class Subscriber:
    territories: frozenset[str] | None  # None: every territory
    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))

    def wants(self, event: dict[str, Any]) -> bool:
        return self.territories is None or event.get("territory_code") in self.territories


def _event(kind: str, call_id: Any, call: OpenCall, status: str | None = None) -> dict[str, Any]:
    return {"event": kind, "call_id": str(call_id), "territory_code": call.territory_code,
            "status": status or call.status, "assigned_to": call.assigned_to, "priority": call.priority,
            "due_at": call.due_at.isoformat() if call.due_at else None}


def changes(before: dict[Any, OpenCall], after: dict[Any, OpenCall], known: frozenset[str] | None) -> list[dict]:
    """What changed between two readings of the open calls; calls of territories not read before
    (``known``, None: all were) are new to the reading, not to the world: they say nothing."""
    events: list[dict[str, Any]] = []
    for call_id, call in after.items():
        old = before.get(call_id)
        if old is None:
            if known is None or call.territory_code in known:
                events.append(_event("call.created", call_id, call))
        elif old != call:
            events.append(_event("call.updated", call_id, call))
            if call.status == "to_reorient" and old.status != "to_reorient":
                events.append({"event": "call.to_reorient", "call_id": str(call_id),
                               "territory_code": call.territory_code,
                               "booking_id": str(call.reorient_booking_id) if call.reorient_booking_id else None})
    for call_id, call in before.items():
        if call_id not in after:
            events.append(_event("call.updated", call_id, call, status="closed"))
    return events


class Hub:
    def __init__(self, engine: AsyncEngine, max_subscribers: int) -> None:
        self.engine = engine
        self.max_subscribers = max_subscribers
        self.subscribers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self._open: dict[Any, OpenCall] = {}
        self._read: frozenset[str] | None = frozenset()  # the territories the last reading covered
        self._reading = asyncio.Lock()

    @property
    def full(self) -> bool:
        return len(self.subscribers) >= self.max_subscribers

    def _wanted(self) -> frozenset[str] | None:
        codes: set[str] = set()
        for subscriber in self.subscribers:
            if subscriber.territories is None:
                return None
            codes |= subscriber.territories
        return frozenset(codes)

    def deliver(self, event: dict[str, Any]) -> None:
        for subscriber in list(self.subscribers):
            if subscriber.wants(event):
                try:
                    subscriber.queue.put_nowait(event)
                except asyncio.QueueFull:
                    # too slow: its stream ends, the console reconnects and reloads
                    self.subscribers.discard(subscriber)
                    with contextlib.suppress(asyncio.QueueFull):
                        subscriber.queue.put_nowait(None)

    async def poll(self) -> int:
        """Read the open calls, tell the consoles what changed; how many changes."""
        async with self._reading:
            return await self._poll()

    async def _poll(self) -> int:
        wanted = self._wanted()
        params = {"everywhere": wanted is None, "codes": sorted(wanted or ())}
        async with self.engine.connect() as connection:
            rows = (await connection.execute(_OPEN, params)).all()
        now_open = {r.id: OpenCall(r.territory_code, r.status, r.assigned_to, r.priority, r.due_at,
                                   r.reorient_booking_id) for r in rows}
        events = changes(self._open, now_open, self._read)
        if wanted is not None:  # a territory no longer listened to is not closing its calls
            events = [e for e in events if e["territory_code"] in wanted]
        self._open, self._read = now_open, wanted
        for event in events:
            self.deliver(event)
        return len(events)

    async def _run(self) -> None:
        while self.subscribers:
            await asyncio.sleep(POLL_SECONDS)
            try:
                await self.poll()
            except Exception as exc:  # noqa: BLE001 - the next poll tries again
                log.error("live.poll_failed", error=type(exc).__name__)
        self._task = None
        self._open, self._read = {}, frozenset()

    async def subscribe(self, territories: frozenset[str] | None) -> Subscriber:
        subscriber = Subscriber(territories)
        self.subscribers.add(subscriber)
        await self.poll()  # its territories read now: what is already open is not news
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="snp-live")
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
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
