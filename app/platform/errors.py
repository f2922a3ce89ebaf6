"""The domain errors: services raise these, never ``HTTPException``; ``app/http/errors.py`` renders them as
``{"error": "<Name>", "detail": "<human text>", "field": …}``. PostgreSQL constraint violations are
turned into 409/422 here, so a conflict found by the database reads like one found by code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import DBAPIError


class AppError(Exception):
    status_code = 500

    def __init__(self, detail: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "detail": self.detail, "field": self.field, **self.extra}

    def __reduce__(self) -> tuple[Any, ...]:
        # Raised in a worker process (app/platform/jobs.py), it comes back whole: field and extra members too.
        return _rebuild, (type(self), self.detail, self.field, self.extra)


def _rebuild(cls: type[AppError], detail: str, field: str | None, extra: dict[str, Any]) -> AppError:
    return cls(detail, field=field, **extra)


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


class PreconditionFailed(AppError):
    """A conditional request whose condition names several resources (FHIR's conditional update)."""

    status_code = 412


class PayloadTooLarge(AppError):
    status_code = 413


class UnsupportedMediaType(AppError):
    status_code = 415


class Unprocessable(AppError):
    status_code = 422


class Unavailable(AppError):
    """The database could not answer in time (or at all): try again shortly."""

    status_code = 503


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
    "57014": (Unavailable, "took longer than the database allows (statement timeout): retry shortly"),
}


def sqlstate_of(exc: DBAPIError) -> str | None:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(getattr(orig, "__cause__", None), "sqlstate", None)


def constraint_of(exc: DBAPIError) -> str | None:
    orig = getattr(exc, "orig", None)
    cause = getattr(orig, "__cause__", None)
    return getattr(cause, "constraint_name", None) or getattr(orig, "constraint_name", None)


# SQLSTATEs after which the connection is gone: connection exceptions (class 08), shutdown, crash
# recovery, start-up in progress.
CONNECTION_LOST = ("08", "57P01", "57P02", "57P03")


def connection_lost(sqlstate: str | None) -> bool:
    return (sqlstate or "").startswith(CONNECTION_LOST)


def unreachable() -> Unavailable:
    return Unavailable("The database cannot be reached right now: retry shortly")


def translate_db_error(exc: DBAPIError) -> AppError | None:
    state = sqlstate_of(exc)
    if exc.connection_invalidated or connection_lost(state):
        return unreachable()
    if state not in _CONSTRAINT_SQLSTATES:
        return None
    cls, reason = _CONSTRAINT_SQLSTATES[state]
    constraint = constraint_of(exc)
    what = f"constraint {constraint}" if constraint else "the request"
    return cls(f"The request {reason} ({what})", constraint=constraint)


