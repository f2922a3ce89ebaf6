"""The appointment events held by the in-order readers (app/outbox/cursors.py): what the administrator sees
(``GET /v1/declarations``) and what ``/metrics`` counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

STATES = ("parked", "refused", "behind")
# Who each reader tells: the national platform's declarer (app/fhir/declare.py), the Hub Santé's publisher.
READERS = {"ptf": "platform", "hub": "samu"}

_LIST = text("""
    SELECT reader, event_id, booking_id, kind, state, reason, status_code, attempts, held_at, checked_at,
           retry_requested_at
    FROM held_events
    WHERE (CAST(:state AS text) IS NULL OR state = :state) AND (CAST(:reader AS text) IS NULL OR reader = :reader)
    ORDER BY held_at, xid, seq
    LIMIT :limit OFFSET :offset""")
_COUNTS = text("SELECT reader, state, count(*) AS n, min(held_at) AS oldest FROM held_events GROUP BY reader, state")


async def list_held(session: AsyncSession, *, state: str | None, reader: str | None, limit: int,
                    offset: int) -> Sequence[RowMapping]:
    """The held events, oldest first."""
    return (await session.execute(_LIST, {"state": state, "reader": reader, "limit": limit,
                                          "offset": offset})).mappings().all()


async def counts(conn: AsyncConnection) -> list[dict[str, Any]]:
    """How many events each reader holds in each state."""
    return [dict(row) for row in (await conn.execute(_COUNTS)).mappings()]
