"""Every query of the calls domain."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, Row, and_, case, cast, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.bookings.models import Booking
from app.calls.models import Call, CallbackAttempt, Decision

# Late: not called back yet, not closed, and past the callback target of its priority.
LATE = and_(Call.status != "closed", Call.first_callback_at.is_(None), Call.due_at < func.now())
MINUTES_LATE = case(
    (LATE, cast(func.floor(func.extract("epoch", func.now() - Call.due_at) / 60), Integer)), else_=0
)


def _with_lateness() -> Any:
    return select(Call, LATE.label("late"), MINUTES_LATE.label("minutes_late"))


async def get(session: AsyncSession, call_id: uuid.UUID) -> Row[Any] | None:
    """The call with its lateness columns."""
    return (await session.execute(_with_lateness().where(Call.id == call_id))).first()


async def lock(session: AsyncSession, call_id: uuid.UUID) -> Call | None:
    """The call, row-locked until the transaction ends: writes on one call are serialised."""
    stmt = select(Call).where(Call.id == call_id).with_for_update()
    return (await session.scalars(stmt)).first()


async def queue(
    session: AsyncSession, *, territories: set[str] | None, status: str | None, limit: int, offset: int
) -> Sequence[Row[Any]]:
    stmt = _with_lateness().order_by(Call.due_at.asc().nulls_last(), Call.received_at, Call.id)
    if territories is not None:
        stmt = stmt.where(Call.territory_code.in_(territories))
    if status:
        stmt = stmt.where(Call.status == status)
    return (await session.execute(stmt.limit(limit).offset(offset))).all()


async def decisions_of(session: AsyncSession, call_id: uuid.UUID) -> Sequence[Decision]:
    stmt = select(Decision).where(Decision.call_id == call_id).order_by(Decision.decided_at, Decision.created_at)
    return (await session.scalars(stmt)).all()


async def callbacks_of(session: AsyncSession, call_id: uuid.UUID) -> Sequence[CallbackAttempt]:
    stmt = select(CallbackAttempt).where(CallbackAttempt.call_id == call_id).order_by(CallbackAttempt.at)
    return (await session.scalars(stmt)).all()


async def bookings_of(session: AsyncSession, call_id: uuid.UUID) -> Sequence[Booking]:
    stmt = select(Booking).where(Booking.call_id == call_id).order_by(Booking.created_at)
    return (await session.scalars(stmt)).all()


async def booking(session: AsyncSession, booking_id: uuid.UUID) -> Booking | None:
    return await session.get(Booking, booking_id)


async def has_decision(session: AsyncSession, call_id: uuid.UUID) -> bool:
    stmt = select(select(Decision.id).where(Decision.call_id == call_id).exists())
    return bool(await session.scalar(stmt))


async def purge_identity(session: AsyncSession, cutoff: dt.datetime) -> int:
    """Empty the identity of calls received before ``cutoff`` (one statement); how many were purged."""
    stmt = (
        update(Call)
        .where(Call.received_at < cutoff, Call.purged_at.is_(None))
        .values(
            patient_family_name=None, patient_given_name=None, patient_phone=None, patient_postcode=None,
            reason=None, purged_at=func.now(),
        )
    )
    result = await session.execute(stmt, execution_options={"synchronize_session": False})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
