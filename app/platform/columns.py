"""Column helpers shared by the domain models."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from sqlalchemy import DateTime, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.dialects.postgresql import base as postgresql_base
from sqlalchemy.orm import mapped_column
from sqlalchemy.types import UserDefinedType

UUIDPk = Annotated[
    uuid.UUID, mapped_column(UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()"))
]
CreatedAt = Annotated[dt.datetime, mapped_column(DateTime(timezone=True), server_default=text("now()"))]
TZ = DateTime(timezone=True)


class XID8(UserDefinedType[str]):
    """PostgreSQL's 64-bit transaction id (``pg_current_xact_id()``): which transaction wrote a row."""

    cache_ok = True

    def get_col_spec(self, **kw: object) -> str:
        return "xid8"


# Reflection (alembic's comparison of models and migrations) reads the column back as this type.
postgresql_base.ischema_names["xid8"] = XID8
