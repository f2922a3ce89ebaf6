"""Every message sent to a patient or his médecin traitant leaves an entry in the audit trail: who sent it (the
service, and for a report its author), when, on which channel, delivered or given up — never its content nor the
address it went to."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit

ACTION = "message.sent"


def record(session: AsyncSession, *, call_id: uuid.UUID, booking_id: uuid.UUID, message_id: uuid.UUID, kind: str,
           channel: str, delivered: bool, by: str | None = None) -> None:
    """In the transaction that records the delivery (or its giving up): both commit, or neither."""
    detail = {"message_id": str(message_id), "booking_id": str(booking_id), "kind": kind, "channel": channel,
              "delivered": delivered}
    if by is not None:
        detail["by"] = by
    audit.record(session, None, ACTION, call_id=call_id, detail=detail)
