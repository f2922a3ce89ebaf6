"""The outbox relay: pushes pending booking events to each effector's webhook, at least once.

A round claims due events in one short transaction (``FOR UPDATE SKIP LOCKED``, then a lease: their
``next_attempt_at`` moved past the round), so several relays (one per worker, or ``snp relay`` alone)
never send the same event at the same time, and no transaction stays open while receivers answer.
Each receiver is then served on its own: its events in order, one at a time, each POST bounded by the
timeout, the first failure of the receiver (no resolution, timeout, refused connection, 5xx) ending its
round; what it got is recorded in a transaction of its own as soon as it is done. A receiver that fails
backs off alone (``webhook_receivers``): a healthy neighbour's events are neither delayed nor repeated.
A round posts nothing that could end after ``round_seconds``.

A 2xx marks the event delivered. Receivers deduplicate on ``X-SNP-Event-Id`` and check
``X-SNP-Signature: sha256=<hex HMAC-SHA256 of the raw body>``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

import httpx
from sqlalchemy import RowMapping, Update, func, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.identity import crypto
from app.identity.sealing import present
from app.notifications.models import WebhookReceiver
from app.outbox.models import OutboxEvent
from app.platform.logging import log
from app.platform.outbound import NonPublic, Unresolved, guarded_client


@dataclass(frozen=True)
class RelayConfig:
    batch_size: int = 50
    timeout_seconds: float = 5.0  # one POST, resolution and connection included
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 3600.0
    interval_seconds: float = 1.0
    round_seconds: float = 10.0  # no POST starts that could end later in the round (at least one timeout)
    allowed_hosts: tuple[str, ...] = ()  # internal hosts webhooks may reach anyway (tests, local receivers)

    @property
    def lease_seconds(self) -> float:
        """How long claimed events stay out of other relays' reach: the round, then a margin for its
        records. A relay that dies mid-round leaves its events due again after it."""
        return max(self.round_seconds, self.timeout_seconds) + 30.0


# The one literal statement of the relay (LATERAL and SKIP LOCKED read best as SQL). Driven by the
# practitioners with a webhook whose receiver is not backing off: events of practitioners without one
# stay pending for ever (they read the pull feed), and must not make each round dearer. A round locks
# up to ``limit`` due events per practitioner and takes the ``limit`` soonest, which it then leases (the
# others it locked wait for the next round; other relays skip them meanwhile).
_PENDING = text("""
    SELECT e.id, e.seq, e.kind, e.payload, e.created_at, e.attempts, p.id AS practitioner_id, p.webhook_url,
           p.webhook_secret, coalesce(r.consecutive_failures, 0) AS receiver_failures
    FROM practitioners p
    LEFT JOIN webhook_receivers r ON r.practitioner_id = p.id
    CROSS JOIN LATERAL (
        SELECT d.id, d.seq, d.kind, d.payload, d.created_at, d.attempts, d.next_attempt_at
        FROM outbox_events d
        WHERE d.practitioner_id = p.id AND d.delivered_at IS NULL AND d.next_attempt_at <= now()
        ORDER BY d.next_attempt_at, d.seq
        LIMIT :limit
        FOR UPDATE OF d SKIP LOCKED
    ) AS e
    WHERE p.webhook_url IS NOT NULL AND (r.next_attempt_at IS NULL OR r.next_attempt_at <= now())
    ORDER BY e.next_attempt_at, e.seq
    LIMIT :limit
""")


def _leased(ids: list[uuid.UUID], seconds: float) -> Update:
    """The claimed events out of other relays' reach for the round (the lock ends with the claim)."""
    return (update(OutboxEvent).where(OutboxEvent.id.in_(ids))
            .values(next_attempt_at=func.now() + func.make_interval(0, 0, 0, 0, 0, 0, seconds)))


def _delivered(ids: list[uuid.UUID]) -> Update:
    return (update(OutboxEvent).where(OutboxEvent.id.in_(ids))
            .values(delivered_at=func.now(), attempts=OutboxEvent.attempts + 1, last_error=None))


def _retry(event_id: uuid.UUID, error: str, delay: float) -> Update:
    # From the failure, not from the round's start (now(), the transaction's instant): a receiver that
    # took its whole timeout to fail would otherwise be tried again at once, its backoff spent waiting.
    return (update(OutboxEvent).where(OutboxEvent.id == event_id)
            .values(attempts=OutboxEvent.attempts + 1, last_error=error,
                    next_attempt_at=func.clock_timestamp() + func.make_interval(0, 0, 0, 0, 0, 0, delay)))


def _released(ids: list[uuid.UUID]) -> Update:
    """Events claimed but not posted (the receiver failed first, or the round ran out): due again, their
    receiver's backoff deciding when."""
    return update(OutboxEvent).where(OutboxEvent.id.in_(ids)).values(next_attempt_at=func.clock_timestamp())


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def event_body(row: RowMapping) -> bytes:
    """The event as the effector's webhook receives it: the patient opened and shown as in his feed."""
    document = {
        "id": str(row["id"]), "seq": row["seq"], "kind": row["kind"],
        "created_at": row["created_at"].isoformat(), "payload": present(crypto.ring(), row["payload"]),
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def backoff(attempts: int, config: RelayConfig) -> float:
    """Seconds before the next try after ``attempts`` failed ones: base, 2×base, 4×base ... capped."""
    return float(min(config.backoff_base_seconds * (2 ** min(attempts, 30)), config.backoff_max_seconds))


@dataclass(frozen=True)
class Failure:
    """Why a POST did not deliver: ``kind`` (dns, timeout, connect, refused, http, other), the text kept in
    ``last_error`` (never a payload), and whether the receiver itself is failing (its round ends)."""

    kind: str
    error: str
    receiver_down: bool = True


def classify(exc: BaseException) -> Failure:
    """Any exception of one POST, said as that receiver's failure (nothing it does escapes its round)."""
    text_ = f"{type(exc).__name__}: {exc}"[:500]
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return Failure("timeout", text_)
    if isinstance(exc, Unresolved | socket.gaierror) or isinstance(cause, Unresolved | socket.gaierror):
        return Failure("dns", text_)
    if isinstance(cause, NonPublic) or isinstance(exc, NonPublic):
        return Failure("refused", text_)
    if isinstance(exc, httpx.ConnectError | OSError):
        return Failure("connect", text_)
    return Failure("other", text_)


async def _post(client: httpx.AsyncClient, row: RowMapping, timeout: float) -> Failure | None:  # noqa: ASYNC109
    """None when delivered, else why not. Bounded by ``timeout`` whatever stage hangs (name resolution
    included, which httpx's own timeouts do not cover)."""
    body = event_body(row)
    headers = {
        "Content-Type": "application/json", "User-Agent": "snp-relay/1",
        "X-SNP-Event-Id": str(row["id"]), "X-SNP-Event-Kind": row["kind"],
        "X-SNP-Signature": sign(row["webhook_secret"] or "", body),
    }
    try:
        async with asyncio.timeout(timeout):
            response = await client.post(row["webhook_url"], content=body, headers=headers)
    except Exception as exc:  # noqa: BLE001 - whatever one receiver does is that receiver's failure
        return classify(exc)
    if 200 <= response.status_code < 300:
        return None
    status = response.status_code
    # A 4xx other than these is about the event, not the receiver: its neighbours in line go on.
    return Failure("http", f"HTTP {status}", receiver_down=status >= 500 or status in (408, 429))


@dataclass
class Served:
    """What one receiver's round did."""

    practitioner_id: uuid.UUID
    failures: int  # consecutive failures of the receiver after the round
    delivered: list[uuid.UUID] = field(default_factory=list)
    failed: list[tuple[RowMapping, Failure]] = field(default_factory=list)
    unsent: list[uuid.UUID] = field(default_factory=list)


async def _serve(client: httpx.AsyncClient, rows: Sequence[RowMapping], config: RelayConfig,
                 deadline: float) -> Served:
    """One receiver's due events, in order, one at a time, until it fails or the round runs out."""
    served = Served(rows[0]["practitioner_id"], rows[0]["receiver_failures"])
    for i, row in enumerate(rows):
        if time.monotonic() + config.timeout_seconds > deadline and (served.delivered or served.failed):
            served.unsent = [r["id"] for r in rows[i:]]
            break
        failure = await _post(client, row, config.timeout_seconds)
        if failure is None:
            served.delivered.append(row["id"])
            served.failures = 0
            continue
        served.failed.append((row, failure))
        served.failures += 1
        if failure.receiver_down:
            served.unsent = [r["id"] for r in rows[i + 1:]]
            break
    return served


async def _record(session: AsyncSession, served: Served, config: RelayConfig) -> None:
    """What the receiver's round did, and the receiver's own state: healthy, or backing off."""
    if served.delivered:
        await session.execute(_delivered(served.delivered))
    for row, failure in served.failed:
        await session.execute(_retry(row["id"], failure.error, backoff(row["attempts"], config)))
    if served.unsent:
        await session.execute(_released(served.unsent))
    now = func.clock_timestamp()
    last = served.failed[-1][1] if served.failed else None
    state: dict[str, Any] = {"consecutive_failures": served.failures}
    if served.delivered:
        state["last_delivered_at"] = now
    if last is not None:
        state.update(last_error_kind=last.kind, last_error=last.error, last_failure_at=now)
    state["next_attempt_at"] = (now + func.make_interval(0, 0, 0, 0, 0, 0, backoff(served.failures - 1, config))
                                if served.failures else None)
    upsert = insert(WebhookReceiver).values(practitioner_id=served.practitioner_id, **state)
    await session.execute(upsert.on_conflict_do_update(index_elements=[WebhookReceiver.practitioner_id],
                                                       set_=state))


async def _serve_and_record(sessionmaker: async_sessionmaker[AsyncSession], client: httpx.AsyncClient,
                            rows: Sequence[RowMapping], config: RelayConfig, deadline: float,
                            writers: asyncio.Semaphore) -> Served:
    served = await _serve(client, rows, config, deadline)
    async with writers, sessionmaker() as session, session.begin():
        await _record(session, served, config)
    if served.failed:
        row, failure = served.failed[-1]
        log.warning("relay.receiver_failed", practitioner_id=str(served.practitioner_id), kind=failure.kind,
                    event_id=str(row["id"]), consecutive_failures=served.failures,
                    retry_in=backoff(served.failures - 1, config) if served.failures else 0)
    return served


async def deliver_once(
    sessionmaker: async_sessionmaker[AsyncSession], client: httpx.AsyncClient, config: RelayConfig
) -> int:
    """One round: claim due events, serve each receiver on its own; returns how many events were claimed."""
    async with sessionmaker() as session, session.begin():
        rows = (await session.execute(_PENDING, {"limit": config.batch_size})).mappings().all()
        if rows:
            await session.execute(_leased([r["id"] for r in rows], config.lease_seconds))
    if not rows:
        return 0
    deadline = time.monotonic() + max(config.round_seconds, config.timeout_seconds)
    ordered = sorted(rows, key=lambda r: (str(r["practitioner_id"]), r["seq"]))
    receivers = [list(group) for _, group in groupby(ordered, key=lambda r: r["practitioner_id"])]
    writers = asyncio.Semaphore(2)  # records are short; two connections at most, whatever the receivers
    results = await asyncio.gather(*(_serve_and_record(sessionmaker, client, group, config, deadline, writers)
                                     for group in receivers), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):  # a record that failed: its events come back after the lease
            log.error("relay.record_failed", error=type(result).__name__)
    done = [r for r in results if isinstance(r, Served)]
    log.info("relay.round", claimed=len(rows), receivers=len(receivers),
             delivered=sum(len(s.delivered) for s in done), failed=sum(len(s.failed) for s in done))
    return len(rows)


async def run(
    sessionmaker: async_sessionmaker[AsyncSession], config: RelayConfig, stop: asyncio.Event,
    *, once: bool = False,
) -> None:
    """Deliver until ``stop`` is set (or until nothing is due, with ``once``)."""
    async with guarded_client(config.allowed_hosts, config.timeout_seconds) as client:
        while not stop.is_set():
            try:
                tried = await deliver_once(sessionmaker, client, config)
            except Exception as exc:  # noqa: BLE001 - the relay outlives a failing database or batch
                log.error("relay.error", error=type(exc).__name__)
                tried = 0
            if once and tried == 0:
                return
            if tried < config.batch_size:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=config.interval_seconds)
                except TimeoutError:
                    pass


def start_in_background(sessionmaker: async_sessionmaker[AsyncSession], settings: Any) -> Callable[[], Awaitable[None]]:
    """Start the relay as a task of the running loop; returns the coroutine function that stops it."""
    stop = asyncio.Event()
    config = RelayConfig(interval_seconds=settings.relay_interval_seconds,
                         allowed_hosts=tuple(settings.webhook_allowed_hosts))
    task = asyncio.create_task(run(sessionmaker, config, stop), name="snp-relay")
    log.info("relay.started")

    async def _stop() -> None:
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=max(config.round_seconds, config.timeout_seconds) + 5)
        except TimeoutError:
            task.cancel()
        log.info("relay.stopped")

    return _stop
