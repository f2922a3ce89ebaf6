"""What the facade's routes share: the ``application/fhir+json`` answer and its documentation, who may
read, what the caller sees and may book, and our public address (absolute URLs start there, never at
the request's Host)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from app.auth.dependencies import require_roles
from app.auth.principal import Principal
from app.http.dependencies import SessionDep
from app.http.errors import error_responses
from app.slots import bookers
from app.territories import service as territory_service
from app.territories.repository import scope_params

FHIR_JSON = "application/fhir+json"
FhirReaderDep = Annotated[Principal, Depends(require_roles("platform", "operator", "regulator", "urgences", "admin"))]


# The media type of the guide's pages ("Accept: application/json+fhir", FHIR DSTU2's) beside R4's, which
# its CapabilityStatements name: both are taken for a body, and both are answered in R4's.
FHIR_JSON_DSTU2 = b"application/json+fhir"


class FhirResponse(JSONResponse):
    media_type = FHIR_JSON


class FhirRoute(APIRoute):
    """A route that reads a body sent as ``application/json+fhir`` as ``application/fhir+json`` (FastAPI
    reads JSON only from ``…/json`` and ``…/…+json`` types)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            headers = request.scope["headers"]
            if any(name == b"content-type" and value.split(b";")[0].strip().lower() == FHIR_JSON_DSTU2
                   for name, value in headers):
                renamed = [(name, FHIR_JSON.encode() + b"".join(value.partition(b";")[1:])
                            if name == b"content-type" else value) for name, value in headers]
                request = Request({**request.scope, "headers": renamed}, request.receive)
            return await handler(request)

        return route


def doc(description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {FHIR_JSON: {"schema": {"type": "object"}}}, "description": description},
            **error_responses(400, 401, 403, 404)}


async def codes(session: SessionDep, principal: Principal) -> list[str] | None:
    """The territories the caller sees, sorted (None: every one)."""
    visible = await territory_service.visible_codes(session, principal)
    return None if visible is None else sorted(visible)


async def scope(session: SessionDep, principal: Principal) -> dict[str, Any]:
    return scope_params(await codes(session, principal))


def booker(principal: Principal) -> dict[str, Any]:
    return bookers.params(principal.role, principal.territories)


def base(request: Request) -> str:
    """Where our absolute URLs start: SNP_PUBLIC_URL, never the request's Host."""
    found: str = request.app.state.settings.base_url
    return found


def here(request: Request, **params: Any) -> str:
    """This request's URL under our public address (with ``params`` replaced)."""
    url = request.url.include_query_params(**params) if params else request.url
    return f"{base(request)}{url.path}" + (f"?{url.query}" if url.query else "")
