"""The outbox relay: pushes pending booking events to each effector's webhook, at least once.

Events are picked in batches with ``FOR UPDATE SKIP LOCKED`` so several relays (one per worker, or
``snp relay`` alone) never send the same event at the same time. A 2xx marks the event delivered;
anything else schedules a retry with exponential backoff. Receivers deduplicate on
``X-SNP-Event-Id`` and check ``X-SNP-Signature: sha256=<hex HMAC-SHA256 of the raw body>``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import RowMapping, Update, func, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import crypto
from app.calls.sealing import present
from app.logging import log
from app.notifications.guard import guarded_client
from app.notifications.models import OutboxEvent


@dataclass(frozen=True)
class RelayConfig:
    batch_size: int = 50
    timeout_seconds: float = 5.0
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 3600.0
    interval_seconds: float = 1.0
    allowed_hosts: tuple[str, ...] = ()  # internal hosts webhooks may reach anyway (tests, local receivers)


# The one literal statement of the relay (LATERAL and SKIP LOCKED read best as SQL). Driven by the
# practitioners with a webhook: events of practitioners without one stay pending for
# ever (they read the pull feed), and must not make each round dearer. A round locks up to ``limit``
# due events per practitioner and sends the ``limit`` soonest; the others it locked wait for the
# next round (other relays skip them meanwhile).
_PENDING = text("""
    SELECT e.id, e.seq, e.kind, e.payload, e.created_at, e.attempts, p.webhook_url, p.webhook_secret
    FROM practitioners p
    CROSS JOIN LATERAL (
        SELECT d.id, d.seq, d.kind, d.payload, d.created_at, d.attempts, d.next_attempt_at
        FROM outbox_events d
        WHERE d.practitioner_id = p.id AND d.delivered_at IS NULL AND d.next_attempt_at <= now()
        ORDER BY d.next_attempt_at, d.seq
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ) AS e
    WHERE p.webhook_url IS NOT NULL
    ORDER BY e.next_attempt_at, e.seq
    LIMIT :limit
""")


def _delivered(ids: list[uuid.UUID]) -> Update:
    return (update(OutboxEvent).where(OutboxEvent.id.in_(ids))
            .values(delivered_at=func.now(), attempts=OutboxEvent.attempts + 1, last_error=None))


def _retry(event_id: uuid.UUID, error: str, delay: float) -> Update:
    # From the failure, not from the batch's start (now(), the transaction's instant): a receiver that
    # took its whole timeout to fail would otherwise be tried again at once, its backoff spent waiting.
    return (update(OutboxEvent).where(OutboxEvent.id == event_id)
            .values(attempts=OutboxEvent.attempts + 1, last_error=error,
                    next_attempt_at=func.clock_timestamp() + func.make_interval(0, 0, 0, 0, 0, 0, delay)))


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


async def _post(client: httpx.AsyncClient, row: RowMapping) -> str | None:
    """None when delivered, else the reason it was not."""
    body = event_body(row)
    headers = {
        "Content-Type": "application/json", "User-Agent": "snp-relay/1",
        "X-SNP-Event-Id": str(row["id"]), "X-SNP-Event-Kind": row["kind"],
        "X-SNP-Signature": sign(row["webhook_secret"] or "", body),
    }
    try:
        response = await client.post(row["webhook_url"], content=body, headers=headers)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"


async def deliver_once(
    sessionmaker: async_sessionmaker[AsyncSession], client: httpx.AsyncClient, config: RelayConfig
) -> int:
    """Try one batch of due events; returns how many were tried."""
    async with sessionmaker() as session, session.begin():
        rows = (await session.execute(_PENDING, {"limit": config.batch_size})).mappings().all()
        if not rows:
            return 0
        errors = await asyncio.gather(*(_post(client, row) for row in rows))
        delivered: list[uuid.UUID] = [row["id"] for row, error in zip(rows, errors, strict=True) if error is None]
        if delivered:
            await session.execute(_delivered(delivered))
        for row, error in zip(rows, errors, strict=True):
            if error is not None:
                delay = backoff(row["attempts"], config)
                await session.execute(_retry(row["id"], error, delay))
                log.warning("relay.failed", event_id=str(row["id"]), attempts=row["attempts"] + 1, retry_in=delay)
    log.info("relay.batch", tried=len(rows), delivered=len(delivered))
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
            await asyncio.wait_for(task, timeout=config.timeout_seconds + 5)
        except TimeoutError:
            task.cancel()
        log.info("relay.stopped")

    return _stop
