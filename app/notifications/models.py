from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.columns import TZ
from app.platform.database import Base


class WebhookReceiver(Base):
    """How one practitioner's webhook fares. The relay backs each receiver off on its own: before
    ``next_attempt_at`` none of its events is tried, whatever its neighbours do. No row: never failed."""

    __tablename__ = "webhook_receivers"

    practitioner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("practitioners.id", ondelete="CASCADE"), primary_key=True)
    # Failed deliveries since the last one that succeeded (0: healthy).
    consecutive_failures: Mapped[int] = mapped_column(Integer, server_default="0")
    # The last failure: what it was (dns, timeout, connect, refused, http, other) and the technical text.
    last_error_kind: Mapped[str | None] = mapped_column(String(16))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_failure_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    last_delivered_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(TZ)
