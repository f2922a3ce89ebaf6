from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.audit import service
from app.auth.dependencies import AdminDep
from app.http.dependencies import SessionDep
from app.http.errors import error_responses
from app.http.schemas import Schema

router = APIRouter(prefix="/v1/audit", tags=["audit"])


class AuditRead(Schema):
    id: int
    at: dt.datetime
    actor_sub: str
    actor_role: str
    action: str
    call_id: uuid.UUID | None
    detail: dict[str, Any] | None


@router.get("", response_model=list[AuditRead], operation_id="list_audit", responses=error_responses(401, 403, 422))
async def list_audit(
    session: SessionDep,
    _: AdminDep,
    call_id: uuid.UUID | None = None,
    actor: Annotated[
        str | None, Query(description="the user id (token subject)", max_length=200, pattern=r"^[^\x00]+$")
    ] = None,
    action: Annotated[
        str | None, Query(description="e.g. call.read, calls.purge, calls.import", max_length=64,
                          pattern=r"^[a-z_.]+$")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[AuditRead]:
    """The audit trail, newest first: who read which call's patient data, purges and imports."""
    rows = await service.list_(session, call_id=call_id, actor=actor, action=action, limit=limit, offset=offset)
    return [AuditRead.model_validate(r) for r in rows]
