"""The messages the patient is sent about his appointment, one row per message and channel: what it is, to which
booking, and how its delivery goes. Nothing of the patient is kept here: his address and phone are read from
the call (sealed there) when the message is sent, so the identity's purge and a withdrawn consent reach the
messages not sent yet."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Identity, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.columns import TZ, CreatedAt, UUIDPk
from app.platform.database import Base

# reminder: due before the appointment (next_attempt_at holds its time), app/notices/reminders.py; moved: the
# confirmation of a booking that replaced one the patient was told of (a change of slot: the new time).
KINDS = ("confirmation", "cancellation", "reminder", "moved")
CHANNELS = ("sms", "email")
# pending: to send (again at next_attempt_at); sent: the provider took it; failed: given up (shown on the call
# and in /metrics); withdrawn: not sent, the patient's consent or address went before it could be.
STATES = ("pending", "sent", "failed", "withdrawn")


class Notice(Base):
    """One message to the patient. ``id`` is its message id (Message-ID of the e-mail, the SMS gateway's tag):
    a receiver that sees it twice knows it is the same message."""

    __tablename__ = "notices"
    __table_args__ = (
        CheckConstraint(f"kind IN {KINDS}", name="kind"),
        CheckConstraint(f"channel IN {CHANNELS}", name="channel"),
        CheckConstraint(f"state IN {STATES}", name="state"),
        # An outbox event read twice (at least once) queues its messages once (a booking: its confirmation and
        # its reminder on each channel).
        Index("uq_notices_event_kind_channel", "event_id", "kind", "channel", unique=True),
        # What the sender reads: the pending ones, due first.
        Index("ix_notices_pending", "next_attempt_at", postgresql_where=text("state = 'pending'")),
        Index("ix_notices_booking", "booking_id", "seq"),
        Index("ix_notices_call", "call_id"),
    )

    id: Mapped[UUIDPk]
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    event_id: Mapped[uuid.UUID] = mapped_column()
    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bookings.id"))
    call_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    # When it is sent (again): at once for a confirmation, at its time for a reminder, after the backoff for a retry.
    next_attempt_at: Mapped[dt.datetime] = mapped_column(TZ, server_default=text("now()"))
    # A reminder's time: not sent before it (null: at once). Its age, in /metrics, counts from it.
    not_before: Mapped[dt.datetime | None] = mapped_column(TZ)
    # Past this, a message not delivered is given up (the appointment's start at the latest; a reminder's night).
    give_up_at: Mapped[dt.datetime] = mapped_column(TZ)
    sent_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    failed_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    # Why the last attempt failed (the provider's status or the error's type; never the message).
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[CreatedAt]


# pending: to send (again at next_attempt_at); sent: the MSSanté server took it; failed: given up (shown on the
# booking); withheld: never sent — the patient objected or was not asked, or the call names no médecin traitant,
# or its identity was purged — and its text emptied.
REPORT_STATES = ("pending", "sent", "failed", "withheld")


class GpReport(Base):
    """The visit's report to the patient's médecin traitant, written by the effector with the booking's outcome and
    sent by secure mail (app/notices/reports.py). ``id`` is its message id. The report and the identity traits the
    médecin traitant files it by are sealed at rest, and emptied with the call's identity; the doctor's address is
    read from the call when it is sent."""

    __tablename__ = "gp_reports"
    __table_args__ = (
        CheckConstraint(f"state IN {REPORT_STATES}", name="state"),
        Index("ix_gp_reports_pending", "next_attempt_at", postgresql_where=text("state = 'pending'")),
        Index("ix_gp_reports_call", "call_id"),
    )

    id: Mapped[UUIDPk]
    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bookings.id"), unique=True)
    call_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    # Who wrote it (the effector's subject) and as which practitioner.
    author: Mapped[str] = mapped_column(String(200))
    practitioner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("practitioners.id"))
    report: Mapped[str | None] = mapped_column(Text)
    # Birth name, first name, birth date and sex: one sealed JSON text.
    traits: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[dt.datetime] = mapped_column(TZ, server_default=text("now()"))
    give_up_at: Mapped[dt.datetime] = mapped_column(TZ)
    sent_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    failed_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    # Why the last attempt failed, or why it was withheld (never the report).
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[CreatedAt]
