"""The live stream: the changes of calls a regulator must see at once (a call entered, taken, to
re-orient, closed), told to the consoles of each territory.

Nothing is written for it: writes pay nothing (a ``NOTIFY`` from a trigger halved the booking
throughput, its commit lock serialising every booking; a table of changes cost as much). While a
console listens, each instance of the app reads the open calls of its consoles' territories twice a
second (the partial index ``ix_calls_open`` holds them) and tells each console what changed in its
territories: ``call.created``, ``call.updated`` (status or who has it; ``closed`` when it leaves the
open calls) and ``call.to_reorient`` (with the cancelled booking); its ``sources`` (the slots',
app/bookings/live.py) are read on the same tick, in the same connection. Never a patient's identity. A
console that cannot keep up is dropped (it reconnects and reloads).

A stream holds no database connection: a new subscriber waits for a reading that covers its
territories (one reading serves every subscriber that arrived meanwhile, so a burst of consoles costs
a few readings, not one each). One account (its tokens together) keeps at most ``max_per_owner``
streams: its next one ends its oldest, told ``replaced`` (a console reconnecting after a blip is never
refused because the server has not yet noticed its dead stream).

Each event has an id, ``<worker>-<sequence>`` (the worker: this hub, a random name per process). The
hub keeps its last ``RING_SIZE`` events; a console reconnecting with the id of the last event it saw
(``Last-Event-ID``) is told what it missed when this same hub still has all of it and read its
territories without a break meanwhile; otherwise ``reload`` (another worker or instance, too old, or a
territory nobody listened to for a while): what it shows may be stale, it reads the queue again.
Nothing of this is written to PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.platform.logging import log

# Events waiting for one console: one tick's changes must fit (a busy tick of bookings is a call change and
# a slot event each; 500 was filled in one tick at 550 bookings/s). Entries share the events, not copies.
QUEUE_SIZE = 2000
# Events kept for the consoles that reconnect (a few minutes of a busy département's changes).
RING_SIZE = 2000
POLL_SECONDS = 0.5
# How often a stream asks whether its user may still listen (a disabled account, a withdrawn role).
RECHECK_SECONDS = 10.0

_OPEN = text("""
    SELECT id, territory_code, status, assigned_to, assigned_name, priority, due_at, reorient_booking_id
    FROM calls
    WHERE status <> 'closed' AND (CAST(:everywhere AS boolean) OR territory_code = ANY(CAST(:codes AS text[])))
""")


@dataclass(frozen=True)
class OpenCall:
    territory_code: str
    status: str
    assigned_to: str | None
    assigned_name: str | None
    priority: str | None
    due_at: dt.datetime | None
    reorient_booking_id: Any


@dataclass(eq=False)
class Subscriber:
    territories: frozenset[str] | None  # None: every territory
    owner: str = ""  # who opened it: the account (role and subject), whatever its token
    queue: asyncio.Queue[tuple[int, dict[str, Any]] | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    ended: str | None = None  # why the hub ended it: "lagging", "replaced", "closing"
    # What it missed since the event it named on reconnection, when the hub could say; None: reload.
    missed: list[tuple[int, dict[str, Any]]] | None = None

    def wants(self, event: dict[str, Any]) -> bool:
        return _wanted(self.territories, event)


def _wanted(territories: frozenset[str] | None, event: dict[str, Any]) -> bool:
    return territories is None or event.get("territory_code") in territories


def _event(kind: str, call_id: Any, call: OpenCall, status: str | None = None) -> dict[str, Any]:
    return {"event": kind, "call_id": str(call_id), "territory_code": call.territory_code,
            "status": status or call.status, "assigned_to": call.assigned_to, "assigned_name": call.assigned_name,
            "priority": call.priority,
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


class Source(Protocol):
    """Another kind of change told on the stream (the slots', app/bookings/live.py), read on each tick with
    the calls, in the same connection: what changed in the territories ``wanted`` (None: all) since its last
    reading, saying nothing of what it finds in territories not read before (``known``)."""

    async def read(self, connection: AsyncConnection, wanted: frozenset[str] | None,
                   known: frozenset[str] | None) -> list[dict[str, Any]]: ...

    def forget(self) -> None: ...


class Full(Exception):
    """This instance streams to as many consoles as it may."""


class Hub:
    def __init__(self, engine: AsyncEngine, max_subscribers: int, max_per_owner: int = 3,
                 sources: Sequence[Source] = ()) -> None:
        self.engine = engine
        self.sources = tuple(sources)
        self.max_subscribers = max_subscribers
        self.max_per_owner = max_per_owner
        self.subscribers: dict[Subscriber, None] = {}  # in order of arrival
        self._arrived = 0  # subscribers that arrived so far
        self._covered = 0  # of them, those the last reading covered
        self._task: asyncio.Task[None] | None = None
        self._open: dict[Any, OpenCall] = {}
        self._read: frozenset[str] | None = frozenset()  # the territories the last reading covered
        self._reading = asyncio.Lock()
        self.worker = secrets.token_hex(4)
        self._sequence = 0  # of the last event delivered
        self._ring: deque[tuple[int, dict[str, Any]]] = deque(maxlen=RING_SIZE)
        # Since which event the changes of a territory are all known (read without a break since), and
        # of every territory (while a console of all of them listens).
        self._since: dict[str, int] = {}
        self._all_since: int | None = None

    def event_id(self, sequence: int) -> str:
        return f"{self.worker}-{sequence}"

    def _sequence_of(self, event_id: str | None) -> int | None:
        worker, _, number = (event_id or "").partition("-")
        if worker != self.worker or not number.isdigit():
            return None
        sequence = int(number)
        return sequence if sequence <= self._sequence else None

    def _known_since(self, territories: frozenset[str] | None) -> int | None:
        """The event since which every change of ``territories`` is known (None: not all are)."""
        if territories is None:
            return self._all_since
        since = 0
        for code in territories:
            known = self._since.get(code, self._all_since)
            if known is None:
                return None
            since = max(since, known)
        return since

    def _missed(self, territories: frozenset[str] | None, after: int) -> list[tuple[int, dict[str, Any]]] | None:
        """The events after ``after`` that a subscriber of ``territories`` wants, if the hub has them all."""
        oldest = self._ring[0][0] if self._ring else self._sequence + 1
        if after + 1 < oldest:
            return None
        return [(n, event) for n, event in self._ring if n > after and _wanted(territories, event)]

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

    def _end(self, subscriber: Subscriber, why: str) -> None:
        self.subscribers.pop(subscriber, None)
        subscriber.ended = why
        try:
            subscriber.queue.put_nowait(None)
        except asyncio.QueueFull:  # a full queue: make room for the end
            subscriber.queue.get_nowait()
            subscriber.queue.put_nowait(None)

    def deliver(self, event: dict[str, Any]) -> None:
        self._sequence += 1
        delivered = (self._sequence, event)
        self._ring.append(delivered)
        for subscriber in list(self.subscribers):
            if subscriber.wants(event):
                try:
                    subscriber.queue.put_nowait(delivered)
                except asyncio.QueueFull:
                    # too slow: its stream ends, the console reconnects and reloads
                    self._end(subscriber, "lagging")

    async def poll(self) -> int:
        """Read the open calls, tell the consoles what changed; how many changes."""
        async with self._reading:
            return await self._poll()

    async def _covering(self, arrival: int) -> None:
        """Wait for a reading that began after the ``arrival``-th subscriber was added."""
        async with self._reading:
            if self._covered < arrival:
                await self._poll()

    async def _poll(self) -> int:
        arrived = self._arrived
        wanted = self._wanted()
        params = {"everywhere": wanted is None, "codes": sorted(wanted or ())}
        async with self.engine.connect() as connection:
            rows = (await connection.execute(_OPEN, params)).all()
            others = [event for source in self.sources for event in await source.read(connection, wanted, self._read)]
        now_open = {r.id: OpenCall(r.territory_code, r.status, r.assigned_to, r.assigned_name, r.priority, r.due_at,
                                   r.reorient_booking_id) for r in rows}
        events = changes(self._open, now_open, self._read)
        if wanted is not None:  # a territory no longer listened to is not closing its calls
            events = [e for e in events if e["territory_code"] in wanted]
        events += others
        previous = self._read
        self._open, self._read, self._covered = now_open, wanted, arrived
        for event in events:
            self.deliver(event)
        self._cover(previous, wanted)
        return len(events)

    def _cover(self, previous: frozenset[str] | None, wanted: frozenset[str] | None) -> None:
        """After a reading of ``wanted`` (the one before read ``previous``): a territory read for the
        first time is known from now on; one read before too keeps its date; one no longer read is not."""
        # A number of its own marks where the new knowledge starts: a console that saw the last event
        # before it did not see what changed while nobody read its territory.
        if wanted is None:
            if previous is not None:
                self._sequence += 1
                self._all_since = self._sequence
                self._since = {code: since for code, since in self._since.items() if code in previous}
            return
        since: dict[str, int] = {}
        fresh = []
        for code in wanted:
            kept = self._since.get(code, self._all_since) if previous is None or code in previous else None
            if kept is None:
                fresh.append(code)
            else:
                since[code] = kept
        if fresh:
            self._sequence += 1
            since.update(dict.fromkeys(fresh, self._sequence))
        self._since, self._all_since = since, None

    async def _run(self) -> None:
        while self.subscribers:
            await asyncio.sleep(POLL_SECONDS)
            try:
                await self.poll()
            except Exception as exc:  # noqa: BLE001 - the next poll tries again
                log.error("live.poll_failed", error=type(exc).__name__)
        self._task = None
        # Nobody listened: nothing is known any more of what changes next.
        self._open, self._read, self._since, self._all_since = {}, frozenset(), {}, None
        self._ring.clear()
        for source in self.sources:
            source.forget()

    async def subscribe(self, territories: frozenset[str] | None, owner: str = "",
                        last_event_id: str | None = None) -> Subscriber:
        """A new stream (Full when this instance has as many as it may). Its territories are read before
        it gets anything: what is already open is not news. With the id of the last event a console saw,
        ``missed`` is what it missed since, when this hub can tell (None otherwise: it must reload)."""
        if owner:
            mine = [s for s in self.subscribers if s.owner == owner]
            for oldest in mine[: max(len(mine) - self.max_per_owner + 1, 0)]:
                self._end(oldest, "replaced")
        if self.full:
            raise Full()
        subscriber = Subscriber(territories, owner)
        after = self._sequence_of(last_event_id)
        # Taken with the registration, no await between: every later event goes to its queue.
        missed = None if after is None else self._missed(territories, after)
        self.subscribers[subscriber] = None
        self._arrived += 1
        try:
            await self._covering(self._arrived)
        except BaseException:
            self.unsubscribe(subscriber)
            raise
        known = self._known_since(territories)
        if missed is not None and after is not None and known is not None and known <= after:
            subscriber.missed = missed
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="snp-live")
        return subscriber

    def recheck(self) -> None:
        """Every stream asks now whether its user may still listen (the users registry changed: an account
        disabled, a role withdrawn), instead of at its next ``RECHECK_SECONDS``."""
        for subscriber in list(self.subscribers):
            with contextlib.suppress(asyncio.QueueFull):  # a full queue is read soon enough, or lags out
                subscriber.queue.put_nowait((0, {}))

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.pop(subscriber, None)

    async def events(
        self, subscriber: Subscriber, *, expires_at: float | None = None,
        still_allowed: Callable[[], Awaitable[bool]] | None = None, recheck_seconds: float = RECHECK_SECONDS,
    ) -> AsyncIterator[tuple[str | None, dict[str, Any]]]:
        """The subscriber's events with their ids (what it missed first), then one last ``expired`` when its
        token expires (``expires_at``, epoch seconds) or ``still_allowed`` (asked every ``recheck_seconds``)
        says its user may no longer listen, or ``replaced`` / ``lagging`` / ``closing`` when the hub ends it.
        Nothing is told after."""
        try:
            for sequence, missed in subscriber.missed or ():
                yield self.event_id(sequence), missed
            while True:
                wait = recheck_seconds
                if expires_at is not None:
                    wait = min(wait, max(expires_at - time.time(), 0))
                try:
                    item = await asyncio.wait_for(subscriber.queue.get(), wait)
                except TimeoutError:
                    item = (0, {})
                if expires_at is not None and time.time() >= expires_at:
                    yield None, {"event": "expired", "reason": "token_expired"}
                    return
                if item is None:
                    yield None, {"event": subscriber.ended or "closing", "reason": subscriber.ended or "closing"}
                    return
                sequence, event = item
                if not event:
                    if still_allowed is not None and not await still_allowed():
                        # A token that expired while it was asked is refused for that: say so, not a withdrawal.
                        expired = expires_at is not None and time.time() >= expires_at
                        yield None, {"event": "expired", "reason": "token_expired" if expired else "access_withdrawn"}
                        return
                    continue
                yield self.event_id(sequence), event
        finally:
            self.unsubscribe(subscriber)

    async def close(self) -> None:
        for subscriber in list(self.subscribers):
            self._end(subscriber, "closing")
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
