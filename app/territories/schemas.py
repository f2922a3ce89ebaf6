from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from app.http.schemas import Input, Schema
from app.reference.identifiers import FINESS, Postcode


@lru_cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _known_zone(value: str) -> str:
    if value not in _zones():
        raise ValueError(f"unknown IANA time zone {value!r} (e.g. Europe/Paris, Indian/Reunion)")
    return value


TimeZone = Annotated[str, AfterValidator(_known_zone)]
CODE_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z_-]{0,39}$"
Code = Annotated[str, Field(pattern=CODE_PATTERN, examples=["36"])]


class Coefficients(Input):
    advice: float = Field(ge=0, le=1)
    slot: float = Field(ge=0, le=1)
    prescription: float = Field(ge=0, le=1)
    other: float = Field(ge=0, le=1)


class PriorityDelays(Input):
    P1: int = Field(gt=0, le=24 * 60, description="minutes")
    P2: int = Field(gt=0, le=24 * 60, description="minutes")
    P3: int = Field(gt=0, le=24 * 60, description="minutes")


class TerritoryCreate(Input):
    code: Code
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["departement", "cpts"]
    parent_code: Code | None = None
    timezone: TimeZone = "Europe/Paris"
    finess: FINESS | None = Field(default=None, description="a CPTS's FINESS number (the FHIR facade's Organization)")

    @model_validator(mode="after")
    def _parent_for_cpts(self) -> TerritoryCreate:
        if self.kind == "cpts" and not self.parent_code:
            raise ValueError("parent_code: a CPTS belongs to a département")
        if self.kind == "departement" and self.parent_code:
            raise ValueError("parent_code: a département has no parent")
        return self


class TerritoryUpdate(Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: TimeZone | None = None
    priority_delays: PriorityDelays | None = None
    avoided_ed_method: Literal["declared_intent", "coefficients"] | None = None
    avoided_ed_coefficients: Coefficients | None = None
    finess: FINESS | None = Field(default=None, description="a CPTS's FINESS number (the FHIR facade's Organization)")
    postcodes: list[Postcode] | None = Field(default=None, max_length=2000, description=(
        "The postcodes a CPTS covers (a département covers those La Poste places in it): the report's share of "
        "postcodes within 30 km of a site with a slot is measured over them"))


class TerritoryRead(Schema):
    code: str
    name: str
    kind: str
    parent_code: str | None
    timezone: str
    priority_delays: dict[str, int]
    avoided_ed_method: str
    avoided_ed_coefficients: dict[str, float]
    postcodes: list[str] | None = None
    finess: str | None = None
    created_at: dt.datetime
