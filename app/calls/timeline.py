"""A call's history as one timeline: received, taken (by whom), callbacks, observations, decisions (revoked
ones struck), appointments (cancelled ones struck), re-orientation, corrections, closing — from the call's
own tables and the audit log's record of who did what. Reading it is reading the patient's record: audited."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.principal import Principal
from app.calls import repository
from app.calls.schemas import TimelineEntry
from app.calls.service import decision_read, ensure_visible
from app.identity import crypto

# What the audit log holds of the acts on a call (its reads are not acts).
ACTS = ("call.assigned", "call.taken_over", "call.corrected", "call.closed")


async def timeline(session: AsyncSession, principal: Principal, call_id: uuid.UUID) -> list[TimelineEntry]:
    call = await ensure_visible(session, principal, call_id)
    audit.record(session, principal, "call.timeline.read", call_id=call.id)
    entries: list[TimelineEntry] = [TimelineEntry(
        at=call.received_at, kind="received", by=call.created_by,
        detail={"channel": call.channel, "source": call.source})]
    acts = await repository.audit_of(session, call.id, ACTS)
    closed_by = None
    for act in acts:
        detail = act.detail or {}
        if act.action == "call.assigned":
            entries.append(TimelineEntry(at=act.at, kind="assigned", by=act.actor_sub, by_role=act.actor_role,
                                         detail={"to": detail.get("to"), "to_name": detail.get("name")}))
        elif act.action == "call.taken_over":
            entries.append(TimelineEntry(at=act.at, kind="taken_over", by=act.actor_sub, by_role=act.actor_role,
                                         detail={"from": detail.get("from"), "to": detail.get("to")}))
        elif act.action == "call.corrected":
            entries.append(TimelineEntry(at=act.at, kind="corrected", by=act.actor_sub, by_role=act.actor_role,
                                         detail={"fields": sorted(detail)}))
        else:
            closed_by = act
    for attempt in await repository.callbacks_of(session, call.id):
        entries.append(TimelineEntry(at=attempt.at, kind="callback", by=attempt.by_sub,
                                     detail={"answered": attempt.answered}))
    ring = crypto.ring()
    observations = await repository.observations_of(session, call.id)
    corrected = {o.corrects for o in observations if o.corrects is not None}
    for o in observations:
        entries.append(TimelineEntry(at=o.at, kind="observation", by=o.author, by_role=o.author_role,
                                     by_name=o.author_name, struck=o.id in corrected, detail={
                                         "id": str(o.id), "text": ring.open(o.text, "observation"),
                                         "corrects": None if o.corrects is None else str(o.corrects)}))
    for d in map(decision_read, await repository.decisions_of(session, call.id)):
        entries.append(TimelineEntry(at=d.decided_at, kind="decision", by=d.created_by, struck=d.revoked_at is not None,
                                     detail={"id": str(d.id), "kind": d.kind, "other_reason": d.other_reason,
                                             "pharmacy_name": d.pharmacy_name, "prescribed": d.prescribed}))
        if d.revoked_at is not None:
            entries.append(TimelineEntry(at=d.revoked_at, kind="decision_revoked", by=d.revoked_by,
                                         detail={"decision_id": str(d.id), "reason": d.revoked_reason}))
    for row in await repository.appointments_of(session, call.id):
        booking = row.Booking
        entries.append(TimelineEntry(
            at=booking.created_at, kind="appointment", by=booking.created_by, struck=booking.status != "active",
            detail={"booking_id": str(booking.id), "start": row.start_at.isoformat(), "mode": row.mode,
                    "over_capacity": row.over_capacity, "site": row.site_name, "outcome": booking.outcome,
                    "practitioner": f"{row.given_name} {row.family_name}"}))
        if booking.cancelled_at is not None:
            entries.append(TimelineEntry(at=booking.cancelled_at, kind="appointment_cancelled",
                                         by=booking.cancelled_by, detail={"booking_id": str(booking.id),
                                                                          "reason": booking.cancel_reason}))
    if call.reorient_at is not None:
        entries.append(TimelineEntry(at=call.reorient_at, kind="reoriented", by=call.reorient_by,
                                     by_role=call.reorient_by_role, detail={"reason": call.reorient_reason}))
    if call.closed_at is not None:
        entries.append(TimelineEntry(at=call.closed_at, kind="closed", by=closed_by.actor_sub if closed_by else None,
                                     by_role=closed_by.actor_role if closed_by else None))
    names = await repository.display_names(session, {e.by for e in entries if e.by})
    order = {kind: rank for rank, kind in enumerate(_SAME_INSTANT)}
    entries.sort(key=lambda e: (e.at, order.get(e.kind, 5)))
    return [e if e.by_name or not e.by else e.model_copy(update={"by_name": names.get(e.by)}) for e in entries]


# Acts of one instant (one transaction) in the order they happen.
_SAME_INSTANT = ("received", "assigned", "taken_over", "callback", "observation", "appointment", "decision",
                 "appointment_cancelled", "reoriented", "decision_revoked", "corrected", "closed")


