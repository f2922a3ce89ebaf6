from __future__ import annotations

import datetime as dt
import uuid

from pydantic import Field, HttpUrl

from app.schemas import Input, Schema
from app.validators import RPPS


class PractitionerCreate(Input):
    rpps: RPPS
    family_name: str = Field(min_length=1, max_length=100)
    given_name: str = Field(min_length=1, max_length=100)
    specialty: str = Field(default="Médecine générale", min_length=1, max_length=100)
    territory_codes: list[str] = Field(min_length=1, max_length=50)


class PractitionerRead(Schema):
    id: uuid.UUID
    rpps: str
    family_name: str
    given_name: str
    specialty: str
    territory_codes: list[str]
    webhook_url: str | None = None
    created_at: dt.datetime


class WebhookSet(Input):
    url: HttpUrl
    secret: str = Field(min_length=16, max_length=200, description="HMAC-SHA256 key for X-SNP-Signature")
