"""Column helpers shared by the domain models."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from sqlalchemy import DateTime, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import mapped_column

UUIDPk = Annotated[
    uuid.UUID, mapped_column(UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()"))
]
CreatedAt = Annotated[dt.datetime, mapped_column(DateTime(timezone=True), server_default=text("now()"))]
TZ = DateTime(timezone=True)
