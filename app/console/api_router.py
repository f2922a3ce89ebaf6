"""What the console asks of the server besides the domains' endpoints: who I am, and the live stream."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field
from sse_starlette.sse import EventSourceResponse

from app.auth import terms
from app.auth.dependencies import PrincipalDep, principal_of, require_roles
from app.auth.principal import Principal
from app.bookings.live import SlotWatch
from app.calls.live import Full, Hub
from app.http.dependencies import SessionDep
from app.http.errors import error_responses
from app.http.proxies import bearer_token
from app.http.schemas import Schema
from app.platform.errors import AppError, Unavailable
from app.territories import repository as territory_repository
from app.territories import service as territory_service

router = APIRouter(tags=["console"])

# Who follows the queue live: the regulation (and an administrator).
StreamerDep = Annotated[Principal, Depends(require_roles("operator", "regulator", "admin"))]
PING_SECONDS = 15


class MyTerritory(Schema):
    code: str
    name: str
    kind: str
    timezone: str = Field(description="IANA zone: times of this territory are shown in it")


class Me(Schema):
    sub: str
    role: str
    display_name: str | None = Field(default=None, description="the name the users registry gives (identity "
                                     "provider's users)")
    territories: list[MyTerritory] = Field(description="the territories named by the token (with their CPTS, "
                                           "visible but not listed)")
    practitioner_id: uuid.UUID | None = None
    referrer_kind: str | None = None
    expires_at: dt.datetime | None = Field(default=None, description="when the token stops working")
    terms_to_accept: str | None = Field(default=None, description="the version of the terms of use to accept "
                                        "(GET/POST /v1/auth/terms) before any right holds; null when none")


@router.get("/v1/me", response_model=Me, operation_id="get_me", responses=error_responses(401))
async def get_me(session: SessionDep, principal: PrincipalDep) -> Me:
    """Who the token says I am, as the server reads it (the console never decodes a token itself)."""
    territories = []
    for code in principal.territories:
        territory = await territory_repository.get(session, code)
        if territory is not None:
            territories.append(MyTerritory(code=territory.code, name=territory.name, kind=territory.kind,
                                           timezone=territory.timezone))
    expires = None if principal.expires_at is None else dt.datetime.fromtimestamp(principal.expires_at, dt.UTC)
    return Me(sub=principal.sub, role=principal.role, display_name=principal.display_name, territories=territories,
              practitioner_id=principal.practitioner_id, referrer_kind=principal.referrer_kind, expires_at=expires,
              terms_to_accept=terms.version() if principal.pending == "terms" else None)


def hub_of(request: Request) -> Hub:
    hub: Hub | None = getattr(request.app.state, "live", None)
    if hub is None:
        settings = request.app.state.settings
        hub = request.app.state.live = Hub(request.app.state.engine, settings.live_max_subscribers,
                                           settings.live_max_per_token, sources=[SlotWatch()])
    return hub


@router.get("/v1/stream", operation_id="stream_calls", responses={
    200: {"description": "text/event-stream: `ready` first (`resumed`: whether what was missed follows), then "
                         "`call.created`, `call.updated` (status or who has it), `call.to_reorient`, and for the "
                         "slots, one event per kind and territory a tick: `slot.held` (`slots`: each `slot_id` with "
                         "the `call_id` holding it), `slot.released` (holds released or lapsed, still free), "
                         "`slot.booked`, `slot.freed` (their booking cancelled), these three with `slot_ids`; "
                         "data is JSON without patient data. Each of these has an id "
                         "(`<worker>-<sequence>`): a console that "
                         "reconnects with the last one it saw in `Last-Event-ID` is sent what it missed when the "
                         "same worker still has all of it, and `reload` right after `ready` otherwise (what it "
                         "shows may be stale: read the queue again). The stream ends with one "
                         "last event: `expired` when the token expires or the account may no longer listen "
                         "(`reason`: token_expired, access_withdrawn), `replaced` when the same account (any of its "
                         "tokens) opened a newer stream beyond its limit (`SNP_LIVE_MAX_PER_TOKEN`), `lagging` when "
                         "the console could not keep up, `closing` when the server stops. A comment line every 15 s "
                         "says the stream is alive.", "content": {"text/event-stream": {}}},
    **error_responses(401, 403, 503)})
async def stream_calls(request: Request, principal: StreamerDep) -> EventSourceResponse:
    """The calls of my territories as they change, and their slots as they are held, released, booked or
    freed (``slot.held``, ``slot.released``, ``slot.booked``, ``slot.freed``), as Server-Sent Events.
    Authenticate with the same Authorization header (read the stream with fetch); the token never goes in
    the URL."""
    # A short session of its own, given back before the stream starts: a stream never holds a pooled
    # connection (twenty streams opening at once used to hold the twenty while waiting for a twenty-first).
    async with request.app.state.sessionmaker() as session:
        visible = await territory_service.visible_codes(session, principal)
    token = bearer_token(request.headers.get("authorization")) or ""
    settings = request.app.state.settings
    hub = hub_of(request)
    try:
        # The cap is the person's, not the token's: a new sign-in (a new token) does not add streams.
        last_event_id = request.headers.get("last-event-id")
        subscriber = await hub.subscribe(None if visible is None else frozenset(visible),
                                         owner=f"{principal.role}:{principal.sub}", last_event_id=last_event_id)
    except Full:
        raise Unavailable("Too many live consoles on this instance: retry later") from None

    async def still_allowed() -> bool:
        try:
            now = await principal_of(request, token, settings)
        except AppError:
            return False
        return now.role == principal.role and now.territories == principal.territories

    async def events() -> AsyncIterator[dict[str, Any]]:
        resumed = subscriber.missed is not None
        yield {"event": "ready", "data": json.dumps({"territories": sorted(visible) if visible else None,
                                                     "resumed": resumed})}
        if last_event_id is not None and not resumed:
            yield {"event": "reload", "data": json.dumps({"reason": "missed_events_unknown"})}
        async for event_id, event in hub.events(subscriber, expires_at=principal.expires_at,
                                                still_allowed=still_allowed):
            yield {"event": event.get("event", "call.updated"), "data": json.dumps(event),
                   **({"id": event_id} if event_id else {})}

    return EventSourceResponse(events(), ping=PING_SECONDS, headers={"Cache-Control": "no-store"})
