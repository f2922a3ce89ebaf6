"""The monthly report says what the patients were told of their appointments (issue 28 §3): bookings notified by
channel, reminders sent, cancellations through the patient's link, and the no-show rates with and without a
reminder (an observed difference)."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from tests.stats.helpers import insert_slot, monthly


async def _booking(connection, start: str, outcome: str | None, *, hours_ahead: float = 48) -> uuid.UUID:
    slot = await insert_slot(connection, start, booking=outcome or "active")
    booking = (await connection.execute(text(
        "UPDATE bookings SET created_at = (SELECT start_at FROM slots WHERE id = :s) - make_interval(hours => :h) "
        "WHERE slot_id = :s RETURNING id"), {"s": slot, "h": hours_ahead})).scalar_one()
    return booking


async def _told(connection, booking: uuid.UUID, kind: str, channel: str, state: str = "sent") -> None:
    await connection.execute(text(
        "INSERT INTO notices (event_id, booking_id, call_id, kind, channel, state, give_up_at) "
        "SELECT gen_random_uuid(), b.id, b.call_id, :kind, :channel, :state, now() FROM bookings b WHERE b.id = :b"),
        {"b": booking, "kind": kind, "channel": channel, "state": state})


async def test_what_the_patients_were_told_is_counted_by_the_month_of_their_appointment(client, connection, auth):
    reminded_came = await _booking(connection, "2022-03-10T10:00:00+01:00", "fulfilled")
    await _told(connection, reminded_came, "confirmation", "sms")
    await _told(connection, reminded_came, "confirmation", "email")
    await _told(connection, reminded_came, "reminder", "sms")
    reminded_missed = await _booking(connection, "2022-03-11T10:00:00+01:00", "noshow")
    await _told(connection, reminded_missed, "confirmation", "sms")
    await _told(connection, reminded_missed, "reminder", "sms")
    silent_missed = await _booking(connection, "2022-03-12T10:00:00+01:00", "noshow")
    silent_came = await _booking(connection, "2022-03-13T10:00:00+01:00", "fulfilled")
    await _told(connection, silent_came, "confirmation", "email")
    await _told(connection, silent_came, "reminder", "email", state="failed")  # not sent: without a reminder
    late = await _booking(connection, "2022-03-14T10:00:00+01:00", "noshow", hours_ahead=1)  # within the delay
    await _told(connection, late, "confirmation", "sms", state="failed")  # never reached the patient
    cancelled = await _booking(connection, "2022-03-15T10:00:00+01:00", None)
    await _told(connection, cancelled, "confirmation", "sms")
    await connection.execute(text("UPDATE bookings SET status = 'cancelled', cancelled_by = 'patient' WHERE id = :b"),
                             {"b": cancelled})
    assert silent_missed and late

    report = await monthly(client, auth("analyst", ["36"]), "36", "2022-03", "2022-04")
    march, april = report["months"]
    for told in (march["notices"], report["total"]["notices"]):
        assert told["bookings_notified"] == 4
        assert told["bookings_notified_by_channel"] == {"sms": 3, "email": 2}
        assert told["reminders_sent"] == 2 and told["cancelled_through_link"] == 1
        assert told["with_reminder"] == {"bookings": 2, "noshow": 1, "noshow_rate": 0.5}
        assert told["without_reminder"] == {"bookings": 2, "noshow": 1, "noshow_rate": 0.5}
    assert april["notices"]["bookings_notified"] == 0

    # A reminder recorded late (the sender's answer after a restart) is counted at once.
    await connection.execute(text("UPDATE notices SET state = 'sent' WHERE booking_id = :b AND kind = 'reminder'"),
                             {"b": silent_came})
    again = (await monthly(client, auth("analyst", ["36"]), "36", "2022-03", "2022-04"))["total"]["notices"]
    assert again["with_reminder"] == {"bookings": 3, "noshow": 1, "noshow_rate": 1 / 3}
    french = await client.get("/v1/stats/monthly", params={"territory": "36", "from": "2022-03", "to": "2022-03",
                                                           "format": "csv-fr"}, headers=auth("admin"))
    assert "rappels envoyés" in french.text and "sans rappel : taux de non-présentation (observé)" in french.text
