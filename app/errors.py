"""The error model: ``{"error": "<Name>", "detail": "<human text>"}``.

Services raise these domain errors, never ``HTTPException``. PostgreSQL constraint violations
are turned into 409/422 here, so a conflict found by the database reads like one found by code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.logging import log


class AppError(Exception):
    status_code = 500

    def __init__(self, detail: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": type(self).__name__, "detail": self.detail}
        if self.field:
            body["field"] = self.field
        body.update(self.extra)
        return body


class BadRequest(AppError):
    status_code = 400


class Unauthorized(AppError):
    status_code = 401


class Forbidden(AppError):
    status_code = 403


class NotFound(AppError):
    status_code = 404


class Conflict(AppError):
    status_code = 409


class Unprocessable(AppError):
    status_code = 422


class ErrorBody(BaseModel):
    """Every error answer has this shape."""

    error: str
    detail: str
    field: str | None = None


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of the error answers a route may give."""
    text = {
        400: "Bad request",
        401: "Missing, expired or forged token",
        403: "Role or territory not allowed",
        404: "Not found (or not visible to you)",
        409: "State conflict",
        422: "Invalid payload: the field and the reason are named",
    }
    return {code: {"model": ErrorBody, "description": text.get(code, "Error")} for code in codes}


def _loc_to_field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) if parts else "body"


# Validation error types whose stock message we say more helpfully.
_REASONS = {"timezone_aware": "must carry a UTC offset (ISO 8601, e.g. 2026-03-01T18:00:00+01:00)"}


def reason_of(error: Mapping[str, Any]) -> str:
    """The reason of one pydantic validation error, as our answers say it."""
    return _REASONS.get(error.get("type", ""), str(error.get("msg", "invalid")).removeprefix("Value error, "))


_CONSTRAINT_SQLSTATES = {
    "22000": (Unprocessable, "has a value the database cannot take"),
    "40P01": (Conflict, "crossed a concurrent change (retry it)"),
    "40001": (Conflict, "crossed a concurrent change (retry it)"),
    "23505": (Conflict, "already exists"),
    "23P01": (Conflict, "conflicts with an existing row"),
    "23503": (Unprocessable, "refers to something that does not exist"),
    "23514": (Unprocessable, "breaks a rule"),
    "23502": (Unprocessable, "is required"),
    "22P02": (Unprocessable, "has an invalid value"),
    "22007": (Unprocessable, "has an invalid date/time"),
    "22008": (Unprocessable, "has a date/time out of range"),
    "22003": (Unprocessable, "is out of range"),
    "22001": (Unprocessable, "is too long"),
    "22021": (Unprocessable, "contains characters that cannot be stored"),
    "54000": (Unprocessable, "is too large"),
}


def sqlstate_of(exc: DBAPIError) -> str | None:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(getattr(orig, "__cause__", None), "sqlstate", None)


def constraint_of(exc: DBAPIError) -> str | None:
    orig = getattr(exc, "orig", None)
    cause = getattr(orig, "__cause__", None)
    return getattr(cause, "constraint_name", None) or getattr(orig, "constraint_name", None)


def translate_db_error(exc: DBAPIError) -> AppError | None:
    state = sqlstate_of(exc)
    if state not in _CONSTRAINT_SQLSTATES:
        return None
    cls, reason = _CONSTRAINT_SQLSTATES[state]
    constraint = constraint_of(exc)
    what = f"constraint {constraint}" if constraint else "the request"
    return cls(f"The request {reason} ({what})", constraint=constraint)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _loc_to_field(e.get("loc", ())), "reason": reason_of(e)}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors) or "Invalid request"
        first = errors[0]["field"] if errors else None
        return JSONResponse(
            {"error": "ValidationError", "detail": detail, "field": first, "errors": errors},
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        names = {404: "NotFound", 405: "MethodNotAllowed", 401: "Unauthorized", 403: "Forbidden"}
        return JSONResponse(
            {"error": names.get(exc.status_code, "HTTPError"), "detail": str(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(IntegrityError)
    @app.exception_handler(DBAPIError)
    async def _db(request: Request, exc: DBAPIError) -> JSONResponse:
        translated = translate_db_error(exc)
        if translated is not None:
            return JSONResponse(translated.body(), status_code=translated.status_code)
        log.error("db.error", sqlstate=sqlstate_of(exc), path=request.url.path)
        return JSONResponse({"error": "InternalError", "detail": "Database error"}, status_code=500)
