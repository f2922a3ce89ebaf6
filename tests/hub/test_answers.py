"""The LRM's answers can overtake the record of the message they answer: the publisher records a message
in the transaction of its round, once the broker confirmed it, and an LRM may acknowledge within that
moment. Such an answer goes back to the queue until the record is there; an answer to a message that
never existed here is dropped once it is old."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from sqlalchemy import text

from app.hub import messages
from app.hub.answers import NotRecordedYet, record_answer
from tests.bookings.helpers import make_call, make_slot, world

SENDER, SAMU = "fr.health.snp", "fr.health.samu360"


def _ack(distribution: str, sent: dt.datetime) -> bytes:
    return json.dumps(messages.acknowledgement(sender=SAMU, recipient=SENDER, acknowledged=distribution, sent=sent,
                                               step="INTEGRE")).encode()


async def test_an_answer_before_its_message_is_recorded_waits_for_the_record(
    committed_client, committed_app, auth, engine
) -> None:
    w = await world(committed_client, auth)
    slot = await make_slot(committed_client, auth, w)
    call = await make_call(committed_client, auth)
    booked = await committed_client.post("/v1/bookings", headers=auth("regulator"),
                                         json={"slot_id": slot, "call_id": call["id"]})
    assert booked.status_code == 201, booked.text
    sessionmaker = committed_app.state.sessionmaker
    distribution = f"{SENDER}_{uuid.uuid4()}"
    now = dt.datetime.now(dt.UTC)

    with pytest.raises(NotRecordedYet):  # the round that sent it has not committed: read it again later
        await record_answer(sessionmaker, _ack(distribution, now))

    async with engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO hub_messages (distribution_id, event_id, booking_id, recipient, method, status, sent_at) "
            "VALUES (:d, :e, :b, :r, 'CreateAppointment', 'booked', now())"),
            {"d": distribution, "e": uuid.uuid4(), "b": booked.json()["id"], "r": SAMU})
    assert await record_answer(sessionmaker, _ack(distribution, now)) == "ack"
    async with engine.connect() as conn:
        row = (await conn.execute(text("SELECT acknowledged_at IS NOT NULL, ack_step FROM hub_messages "
                                       "WHERE distribution_id = :d"), {"d": distribution})).one()
    assert tuple(row) == (True, "INTEGRE")

    # An answer to a message never sent from here, six minutes old: dropped, not read again forever.
    old = now - dt.timedelta(minutes=6)
    assert await record_answer(sessionmaker, _ack(f"{SENDER}_{uuid.uuid4()}", old)) == "unknown_message"
