from __future__ import annotations

import datetime as dt
import uuid

from pydantic import Field, HttpUrl, StrictBool

from app.schemas import Input, Schema
from app.validators import RPPS

OVER_CAPACITY = ("Agrees to be asked for over-capacity appointments (rendez-vous en surnuméraire) outside the "
                 "published slots")


class PractitionerCreate(Input):
    rpps: RPPS
    family_name: str = Field(min_length=1, max_length=100)
    given_name: str = Field(min_length=1, max_length=100)
    specialty: str = Field(default="Médecine générale", min_length=1, max_length=100)
    territory_codes: list[str] = Field(min_length=1, max_length=50)
    accepts_over_capacity: StrictBool = Field(default=False, description=OVER_CAPACITY)


class PractitionerRead(Schema):
    id: uuid.UUID
    rpps: str
    family_name: str
    given_name: str
    specialty: str
    territory_codes: list[str]
    webhook_url: str | None = None
    accepts_over_capacity: bool = Field(default=False, description=OVER_CAPACITY)
    created_at: dt.datetime


class WebhookSet(Input):
    url: HttpUrl
    secret: str = Field(min_length=16, max_length=200, description="HMAC-SHA256 key for X-SNP-Signature")


class PractitionerSettings(Input):
    """The effector's own settings (PATCH: a field left out is left as it is)."""

    accepts_over_capacity: StrictBool | None = Field(default=None, description=OVER_CAPACITY)
