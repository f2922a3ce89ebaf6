"""Queries of the notifications domain that other domains' statements compose."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, func, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.notifications.models import WebhookReceiver
from app.outbox.models import OutboxEvent
from app.platform.database import sql

# The webhook state of practitioners that registered one: the receiver's row (absent: never failed) and
# how many of its events wait for delivery.
_RECEIVER_STATES = """
    SELECT p.id, r.consecutive_failures, r.last_error_kind, r.last_error, r.last_failure_at, r.last_delivered_at,
           r.next_attempt_at,
           (SELECT count(*) FROM outbox_events e WHERE e.practitioner_id = p.id AND e.delivered_at IS NULL)
             AS pending_events
    FROM unnest(CAST(:ids AS uuid[])) AS p(id)
    LEFT JOIN webhook_receivers r ON r.practitioner_id = p.id"""


async def receiver_states(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """The webhook state of each of ``ids`` (practitioners that registered a webhook)."""
    if not ids:
        return {}
    rows = await session.execute(sql(_RECEIVER_STATES), {"ids": ids})
    return {row["id"]: dict(row) for row in rows.mappings()}


async def reset_receiver(session: AsyncSession, practitioner_id: uuid.UUID) -> None:
    """A webhook (re)registered starts afresh: no backoff left from the old one, its waiting events due now."""
    await session.execute(delete(WebhookReceiver).where(WebhookReceiver.practitioner_id == practitioner_id))
    await session.execute(update(OutboxEvent)
                          .where(OutboxEvent.practitioner_id == practitioner_id, OutboxEvent.delivered_at.is_(None),
                                 OutboxEvent.next_attempt_at > func.now())
                          .values(next_attempt_at=func.now()))


# The relay's state across every receiver, for /metrics: how many webhooks, how many failing (their last
# tries failed), how many backing off now, and the events they have yet to acknowledge, with the oldest's age.
RELAY_COUNTS = """
    SELECT count(*) AS receivers,
           count(*) FILTER (WHERE r.consecutive_failures > 0) AS failing,
           count(*) FILTER (WHERE r.next_attempt_at > now()) AS backing_off,
           coalesce(sum(e.pending), 0) AS pending,
           coalesce(extract(epoch FROM now() - min(e.oldest)), 0) AS oldest_pending_seconds
    FROM practitioners p
    LEFT JOIN webhook_receivers r ON r.practitioner_id = p.id
    CROSS JOIN LATERAL (
        SELECT count(*) AS pending, min(d.created_at) AS oldest
        FROM outbox_events d WHERE d.practitioner_id = p.id AND d.delivered_at IS NULL
    ) AS e
    WHERE p.webhook_url IS NOT NULL"""


async def relay_counts(conn: AsyncConnection) -> dict[str, float]:
    """The relay's counts as the database holds them now (every worker reports the same)."""
    row = (await conn.execute(sql(RELAY_COUNTS))).mappings().one()
    return {name: float(value) for name, value in row.items()}
