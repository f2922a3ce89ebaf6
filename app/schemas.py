"""Pydantic bases: one for what we send, one (strict about unknown fields) for what we accept."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Input(BaseModel):
    """Request bodies: an unknown field is an error, not something silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must carry a UTC offset (ISO 8601, e.g. 2026-03-01T18:00:00+01:00)")
    return value


AwareDatetime = Annotated[dt.datetime, AfterValidator(_aware)]
