"""The reader that queues the patient's messages from the transactional outbox, under its own cursor (as the
national-platform declarer and the Hub publisher read it: app/outbox/cursors.py): in commit order, at least once,
the cursor moved in the transaction that queues. A booking only writes its outbox event: it never waits for a
message.

A booking made by the regulation, an ED redirection, a referral or an over-capacity appointment, whose call says
``notify``, queues a confirmation per channel, and with it the reminder due before the appointment
(app/notices/reminders.py: none if booked too late for one); its cancellation withdraws what is still to send
(the reminder, a confirmation not sent yet) and queues a cancellation notice on the channels the patient was told
on. A change of slot (a booking that replaces another of its call) is told as one message, ``moved``, with the
new time (or as a confirmation, if the patient had not been told of the first), and its reminder follows the new
time; the replaced booking's cancellation is not told. An appointment an agenda declared to us is its software's
to tell (moving one is, too: app/fhir)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.notices import reminders, repository
from app.outbox import cursors

CURSOR = "notices"
LOCK = 0x534E504E  # one reader across every instance
BATCH = 100
CHANNELS = {"sms": ["sms"], "email": ["email"], "both": ["sms", "email"], "none": []}


async def read_once(sessionmaker: async_sessionmaker[AsyncSession], give_up_seconds: float, *,
                    reminder_before: dt.timedelta, clock: float = 0.0) -> int:
    """One round: the final events after the cursor, their messages queued; how many events were settled."""

    async def handle(session: AsyncSession, event: RowMapping, row: Any) -> None:
        if row is None or row["declared"]:
            return
        common = {"event_id": event["id"], "booking_id": row["id"], "call_id": row["call_id"],
                  "give_up_seconds": give_up_seconds, "start_at": row["start_at"], "clock": clock}
        if event["kind"] == "booking.created":
            channels = CHANNELS[row["notify"]]
            if channels:
                moved = row["replaces"] is not None and any(
                    c["state"] == "sent" for c in await repository.confirmations(session, row["replaces"]))
                await repository.queue(session, kind="moved" if moved else "confirmation", channels=channels, **common)
                when = reminders.due(row["start_at"], row["booked_at"], reminder_before, row["timezone"])
                if when is not None:
                    await repository.queue(session, kind="reminder", channels=channels, due_at=when[0],
                                           give_up_at=when[1], **common)
        elif event["kind"] == "booking.cancelled" and row["status"] == "cancelled":
            told = await repository.confirmations(session, row["id"])
            await repository.withdraw_pending(session, row["id"], ["confirmation", "moved", "reminder"],
                                              "cancelled before it was sent")
            if row["replaced"]:  # a change of slot: the new booking's message says it
                return
            channels = [c["channel"] for c in told if c["state"] == "sent"]
            if channels and CHANNELS[row["notify"]]:
                await repository.queue(session, kind="cancellation", channels=channels, **common)

    return await cursors.read_round(sessionmaker, name=CURSOR, lock=LOCK, batch=BATCH, rows=repository.bookings,
                                    handle=handle)
