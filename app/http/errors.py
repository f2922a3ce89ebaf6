"""The error answers: every error of the API in one shape, ``{"error": "<Name>", "detail": "<human text>",
"field": …}`` (an OperationOutcome under ``/fhir``), from the domain errors of ``app/platform/errors.py``,
FastAPI's validation, Starlette's HTTP errors and the database's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Send

from app.platform.errors import (
    AppError,
    BadRequest,
    Unavailable,
    UnsupportedMediaType,
    reason_of,
    sqlstate_of,
    translate_db_error,
    unreachable,
)
from app.platform.logging import log


class FieldError(BaseModel):
    field: str = Field(description="A dotted path in the body, a query parameter, a header, or `body`")
    reason: str
    type: str | None = Field(default=None, description="The kind of fault, for software that words it its own "
                             "way (the console, in French): missing, string_too_long, greater_than_equal, "
                             "string_pattern_mismatch, literal_error… (pydantic's error types)")
    limit: int | float | str | None = Field(default=None, description="The bound the value broke, when the fault "
                                            "is one of size or range (max_length, min_length, ge, le, gt, lt)")


class ErrorBody(BaseModel):
    """Every error answer of the API has this shape (4xx and 5xx alike); some errors add the members
    named below. Under `/fhir` errors are FHIR OperationOutcome resources instead."""

    error: str = Field(description="The error's name: ValidationError, NotFound, SlotTaken, Unavailable…")
    detail: str = Field(description="What went wrong, in words")
    field: str | None = Field(description="The field at fault (a dotted path in the body, a query parameter, a "
                                          "header, or `body` for the body as a whole); null when none is")
    errors: list[FieldError] | None = Field(
        default=None, description="ValidationError: every field at fault, in order")
    rejected: list[dict[str, Any]] | None = Field(
        default=None, description="Bulk or calendar publish: each rejected item (index, field, reason, "
                                  "conflicting_slot_id or conflicting_index, uid, start)")
    rows: list[dict[str, Any]] | None = Field(
        default=None, description="Calls import: each rejected row (row, field, reason)")
    conflicting_slot_id: str | None = Field(default=None, description="Overlap: the slot it overlaps")
    constraint: str | None = Field(default=None, description="The database constraint that refused the write")


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of the error answers a route may give."""
    text = {
        400: "The body cannot be read (not JSON, or not UTF-8)",
        401: "Missing, expired or forged token",
        403: "Role or territory not allowed",
        404: "Not found (or not visible to you)",
        409: "State conflict",
        412: "The condition of a conditional request names several resources",
        413: "The body is larger than this route accepts",
        415: "The body's Content-Type is not one this route reads",
        429: "Too many requests this minute (per token, or per address for failed sign-ins): retry after "
             "Retry-After seconds",
        431: "A header (or all of them) is larger than the service takes",
        422: "Invalid payload: the field and the reason are named",
        405: "Method not allowed on this path (the Allow header lists those that are)",
        503: "The service could not answer in time (the database, or every worker of its kind busy): retry after "
             "Retry-After seconds",
    }
    return {code: {"model": ErrorBody, "description": text.get(code, "Error")} for code in codes}


def _loc_to_field(loc: tuple[Any, ...] | list[Any]) -> str:
    # "body" and the tag of a union's member (written <…>) say nothing a client needs.
    parts = [str(p) for p in loc if p != "body" and not str(p).startswith("<")]
    return ".".join(parts) if parts else "body"


_BOUNDS = ("max_length", "min_length", "le", "ge", "lt", "gt")


def _limit_of(error: Mapping[str, Any]) -> int | float | str | None:
    ctx = error.get("ctx") or {}
    for name in _BOUNDS:
        if name in ctx:
            value = ctx[name]
            return value if isinstance(value, int | float) else str(value)
    return None


async def send_error(
    send: Send, status: int, error: str, detail: str, field: str | None,
    headers: Sequence[tuple[bytes, bytes]] = (), *, path: str = "",
) -> None:
    """An error answer in the API's shape (under /fhir, an OperationOutcome), sent by an ASGI middleware
    before the app sees the request."""
    content: dict[str, Any] = {"error": error, "detail": detail, "field": field}
    media = b"application/json"
    if path.startswith("/fhir"):
        content, media = fhir_outcome(content, status), b"application/fhir+json"
    body = json.dumps(content).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", media), (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


def _headers(exc: AppError) -> dict[str, str] | None:
    if exc.status_code == 401:
        return {"WWW-Authenticate": "Bearer"}
    if exc.status_code == 503:
        return {"Retry-After": "1"}
    return None


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app serves on this path (several routes may share a path, and
    routers nest): the methods for which a route matches fully."""
    from starlette.routing import Match

    return [method for method in _METHODS
            if any(route.matches({**request.scope, "method": method})[0] == Match.FULL
                   for route in request.app.router.routes)]


# The OperationOutcome issue code of each status (FHIR answers under /fhir are OperationOutcome).
_FHIR_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
               409: "conflict", 412: "multiple-matches", 413: "too-long", 415: "not-supported", 422: "processing",
               429: "throttled", 431: "too-long", 500: "exception", 503: "transient"}


def fhir_outcome(body: dict[str, Any], status_code: int) -> dict[str, Any]:
    """The API's error body as a FHIR OperationOutcome."""
    issue: dict[str, Any] = {"severity": "error", "code": _FHIR_CODES.get(status_code, "processing"),
                             "diagnostics": body.get("detail", "")}
    if body.get("field"):
        issue["expression"] = [body["field"]]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def _reply(request: Request, body: dict[str, Any], status_code: int,
           headers: dict[str, str] | None = None) -> JSONResponse:
    """The error answer: the API's shape, or under /fhir an OperationOutcome (a search parameter FastAPI
    refuses is a 400 there, as FHIR servers answer)."""
    if not request.url.path.startswith("/fhir"):
        return JSONResponse(body, status_code=status_code, headers=headers)
    if status_code == 422 and request.method == "GET":
        status_code = 400
    return JSONResponse(fhir_outcome(body, status_code), status_code=status_code, headers=headers,
                        media_type="application/fhir+json")


def error_response(request: Request, exc: AppError) -> JSONResponse:
    """The answer the app gives for ``exc``, for a route that must add to it (a cookie to forget)."""
    return _reply(request, exc.body(), exc.status_code, _headers(exc))


def _non_json_body(request: Request) -> str | None:
    """The media type of a request's body when it names one that is not JSON (``application/json`` or a
    ``+json`` type such as FHIR's), else None."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not kind or kind == "application/json" or kind.endswith("+json"):
        return None
    return kind


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        kind = _non_json_body(request)
        if kind is not None and any(tuple(e.get("loc", ()))[:1] == ("body",) for e in exc.errors()):
            # FastAPI hands a body of another type to the model as bytes: say what is wrong with it.
            refused = UnsupportedMediaType(f"This route reads JSON (Content-Type: application/json), not {kind}",
                                           field="Content-Type")
            return _reply(request, refused.body(), 415)
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            error = BadRequest("The body is not valid JSON", field="body")
            return _reply(request, error.body(), 400)
        errors = [
            {"field": _loc_to_field(e.get("loc", ())), "reason": reason_of(e), "type": e.get("type"),
             "limit": _limit_of(e)}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors) or "Invalid request"
        first = errors[0]["field"] if errors else None
        return _reply(request, {"error": "ValidationError", "detail": detail, "field": first, "errors": errors}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        if exc.status_code == 400:  # FastAPI could not read the body at all
            body = BadRequest("The body cannot be read: send JSON (UTF-8)", field="body").body()
        else:
            names = {404: "NotFound", 405: "MethodNotAllowed", 401: "Unauthorized", 403: "Forbidden"}
            body = {"error": names.get(exc.status_code, "HTTPError"), "detail": str(exc.detail), "field": None}
        return _reply(request, body, exc.status_code, headers or None)

    @app.exception_handler(IntegrityError)
    @app.exception_handler(DBAPIError)
    async def _db(request: Request, exc: DBAPIError) -> JSONResponse:
        translated = translate_db_error(exc)
        if translated is not None:
            return _reply(request, translated.body(), translated.status_code, _headers(translated))
        log.error("db.error", sqlstate=sqlstate_of(exc), path=request.url.path)
        return _reply(request, {"error": "InternalError", "detail": "Database error", "field": None}, 500)

    @app.exception_handler(PoolTimeout)
    async def _pool_timeout(request: Request, exc: PoolTimeout) -> JSONResponse:
        # Every pooled connection busy for db_pool_timeout_seconds: a burst, answered as one.
        log.warning("db.pool_exhausted", path=request.url.path)
        error = Unavailable("Every database connection of this instance is busy: retry in a moment")
        return _reply(request, error.body(), 503, _headers(error))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A defect: still an answer in the API's shape (never a plain-text 500), and a line to find it by.
        log.error("request.failed", error=type(exc).__name__, path=request.url.path)
        return _reply(request, {"error": "InternalError", "detail": "Internal error", "field": None}, 500)

    @app.exception_handler(OSError)
    async def _unreachable(request: Request, exc: OSError) -> JSONResponse:
        # A connection to PostgreSQL refused or reset: the only OSError a request meets.
        log.warning("db.unreachable", error=type(exc).__name__, path=request.url.path)
        error = unreachable()
        return _reply(request, error.body(), 503, _headers(error))
