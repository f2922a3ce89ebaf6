"""The audit trail: who read or changed a patient record, and when."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEntry
from app.auth.principal import Principal


def record(
    session: AsyncSession, principal: Principal | None, action: str, *, call_id: uuid.UUID | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add an entry to the current transaction (it commits, or vanishes, with the action it records). Its
    time is the moment of the act, as the call's own times are (not the transaction's start: a call's
    timeline orders its acts by it)."""
    session.add(
        AuditEntry(
            at=dt.datetime.now(dt.UTC),
            actor_sub=principal.sub if principal else "system",
            actor_role=principal.role if principal else "system",
            action=action, call_id=call_id, detail=detail,
        )
    )


async def list_(
    session: AsyncSession, *, call_id: uuid.UUID | None, actor: str | None, action: str | None,
    limit: int, offset: int,
) -> Sequence[AuditEntry]:
    stmt = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit).offset(offset)
    if call_id is not None:
        stmt = stmt.where(AuditEntry.call_id == call_id)
    if actor:
        stmt = stmt.where(AuditEntry.actor_sub == actor)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    return (await session.scalars(stmt)).all()
