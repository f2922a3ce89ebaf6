"""The effector's pull feed of booking events (the same events the relay pushes)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.notifications.models import OutboxEvent
from app.schemas import Schema


class EventRead(Schema):
    id: uuid.UUID = Field(description="Stable event id: the same in the feed and in X-SNP-Event-Id")
    seq: int
    kind: str = Field(description="booking.created or booking.cancelled")
    created_at: dt.datetime
    delivered_at: dt.datetime | None = Field(default=None, description="When the webhook acknowledged it")
    payload: dict[str, Any]


class FeedPage(Schema):
    events: list[EventRead]
    next_since: int = Field(description="Pass as `since` to get the events after these")


async def feed(session: AsyncSession, practitioner_id: uuid.UUID, since: int, limit: int) -> FeedPage:
    stmt = (
        select(OutboxEvent.id, OutboxEvent.seq, OutboxEvent.kind, OutboxEvent.created_at, OutboxEvent.delivered_at,
               OutboxEvent.payload)
        .where(OutboxEvent.practitioner_id == practitioner_id, OutboxEvent.seq > since)
        .order_by(OutboxEvent.seq).limit(limit)
    )
    rows = (await session.execute(stmt)).mappings().all()
    events = [EventRead.model_validate(dict(r)) for r in rows]
    return FeedPage(events=events, next_since=events[-1].seq if events else since)
