"""Pydantic bases: one for what we send, one (strict about unknown fields) for what we accept."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal
from typing import Annotated

import pydantic
from pydantic import BaseModel, BeforeValidator, ConfigDict, field_validator


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Input(BaseModel):
    """Request bodies: an unknown field is an error, not something silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        # PostgreSQL text cannot hold NUL: refuse it here with the field's name, not deep in the database.
        kind = type(value)
        if isinstance(value, str) and kind is str:
            if "\x00" in value:
                raise ValueError("must not contain NUL characters")
        elif kind not in _WITHOUT_TEXT and _has_nul(value):
            raise ValueError("must not contain NUL characters")
        return value


# Values that cannot carry text: checked by their type alone (most fields of most bodies).
_WITHOUT_TEXT = frozenset({int, float, bool, type(None), uuid.UUID, dt.datetime, dt.date, dt.time, Decimal})


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


_NUMBER = re.compile(r"\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\s*")


def _written(value: object) -> object:
    """An instant is written out (ISO 8601 with its offset), never a number of seconds since 1970
    (which pydantic would otherwise read, from a number or a string of digits)."""
    if (isinstance(value, int | float) and not isinstance(value, bool)) or (
        isinstance(value, str) and _NUMBER.fullmatch(value)
    ):
        raise ValueError("must be an ISO 8601 date-time with its UTC offset, not a number")
    return value


# Checked by pydantic-core itself; a naive time is refused with the reason app.errors.reason_of gives.
AwareDatetime = Annotated[pydantic.AwareDatetime, BeforeValidator(_written)]
