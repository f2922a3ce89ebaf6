"""The effector's pull feed of booking events (the same events the relay pushes)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import crypto
from app.audit import service as audit
from app.auth import Principal
from app.calls.sealing import present
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


# What makes an event a read of a patient record: the identity a home visit or a teleconsultation needs.
IDENTIFYING = ("family_name", "given_name", "phone", "address")


async def feed(session: AsyncSession, principal: Principal, since: int, limit: int) -> FeedPage:
    """The effector's events after ``since``; a page that carries a patient's identity is audited."""
    assert principal.practitioner_id is not None
    practitioner_id = principal.practitioner_id
    stmt = (
        select(OutboxEvent.id, OutboxEvent.seq, OutboxEvent.kind, OutboxEvent.created_at, OutboxEvent.delivered_at,
               OutboxEvent.payload)
        .where(OutboxEvent.practitioner_id == practitioner_id, OutboxEvent.seq > since)
        .order_by(OutboxEvent.seq).limit(limit)
    )
    rows = (await session.execute(stmt)).mappings().all()
    ring = crypto.ring()
    events = [EventRead.model_validate({**r, "payload": present(ring, r["payload"])}) for r in rows]
    identified = [e.payload.get("booking_id") for e in events
                  if any(k in (e.payload.get("patient") or {}) for k in IDENTIFYING)]
    if identified:
        audit.record(session, principal, "booking_events.read", detail={"bookings": identified})
    return FeedPage(events=events, next_since=events[-1].seq if events else since)
