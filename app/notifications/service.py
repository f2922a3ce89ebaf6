"""The effector's pull feed of booking events (the same events the relay pushes)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.principal import Principal
from app.http.schemas import Schema
from app.identity import crypto
from app.identity.sealing import present
from app.notifications import repository
from app.outbox.models import OutboxEvent


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


# What the doctor reads of his receiver's last failure, by its kind.
FAILURE_SAID = {
    "dns": "le nom de domaine de l'adresse ne se résout pas",
    "timeout": "pas de réponse dans le délai imparti",
    "connect": "connexion impossible",
    "refused": "l'adresse désigne un réseau interne, refusée",
    "http": "le serveur a répondu par une erreur",
    "other": "erreur inattendue",
}


class WebhookDelivery(Schema):
    """How the relay fares with one practitioner's webhook (each receiver backs off on its own)."""

    status: Literal["healthy", "failing", "untried"] = Field(
        description="healthy: the last delivery succeeded; failing: the last tries failed, the relay backs off; "
                    "untried: nothing sent yet")
    consecutive_failures: int = Field(description="Failed deliveries since the last one that succeeded")
    last_error_kind: Literal["dns", "timeout", "connect", "refused", "http", "other"] | None = Field(
        default=None, description="The last failure: dns (the host does not resolve), timeout, connect (refused "
                                  "or reset), refused (a non-public address), http (an error status), other")
    last_error: str | None = Field(default=None, description="The last failure as the relay saw it (e.g. HTTP 503)")
    last_failure_at: dt.datetime | None = Field(default=None, description="When the last failure happened")
    last_delivered_at: dt.datetime | None = Field(default=None, description="When the receiver last acknowledged "
                                                                            "an event (2xx)")
    next_attempt_at: dt.datetime | None = Field(
        default=None, description="Before this instant the relay sends this receiver nothing (its backoff); "
                                  "null: no wait")
    pending_events: int = Field(description="Events not yet acknowledged by the webhook (all are in the feed)")
    message: str = Field(description="The state said for the doctor, in French")


def delivery(state: dict[str, Any]) -> WebhookDelivery:
    """A receiver's state (``repository.receiver_states``) as the doctor and the administrator see it."""
    failures = state["consecutive_failures"] or 0
    status: Literal["healthy", "failing", "untried"]
    if failures:
        status = "failing"
        reason = FAILURE_SAID.get(state["last_error_kind"] or "other", FAILURE_SAID["other"])
        if state["last_error_kind"] == "http" and state["last_error"]:
            reason += f" ({state['last_error']})"
        message = (f"Les envois vers votre webhook échouent ({failures} échec{'s' if failures > 1 else ''} de suite : "
                   f"{reason}). Nous réessayons automatiquement, de plus en plus espacé ; vos rendez-vous restent "
                   "visibles dans votre flux.")
    elif state["last_delivered_at"] is not None:
        status, message = "healthy", "Votre webhook reçoit les événements."
    else:
        status, message = "untried", "Aucun événement envoyé à votre webhook pour l'instant."
    return WebhookDelivery(status=status, consecutive_failures=failures, last_error_kind=state["last_error_kind"],
                           last_error=state["last_error"], last_failure_at=state["last_failure_at"],
                           last_delivered_at=state["last_delivered_at"], next_attempt_at=state["next_attempt_at"],
                           pending_events=state["pending_events"], message=message)


async def deliveries(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, WebhookDelivery]:
    """The webhook state of each of ``ids`` (practitioners that registered a webhook)."""
    return {pid: delivery(state) for pid, state in (await repository.receiver_states(session, ids)).items()}
