"""The sender obeys what the patient did after it claimed its messages: each message is locked and read again
when its turn comes, and an outcome is written only over a message still pending."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from app.notices import repository
from tests.bookings.helpers import world
from tests.notices.conftest import smtp  # noqa: F401
from tests.notices.helpers import PUBLIC_URL, book, notice_settings, rounds, sent_sms

PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize("act", ["/no-reminder", ""], ids=["opt-out", "cancel"])
async def test_a_patient_who_acts_after_the_claim_gets_no_reminder(act, committed_client, auth, engine, settings,
                                                                   tmp_path, monkeypatch, smtp):  # noqa: F811
    sink = tmp_path / "sms.jsonl"
    configured = notice_settings(settings, smtp_url=smtp.url, sink=sink)
    await rounds(engine, configured)
    w = await world(committed_client, auth, address="12 rue des Tanneurs", postcode="36100")
    day = dt.datetime.now(PARIS).date() + dt.timedelta(days=1)
    start = dt.datetime.combine(day, dt.time(15, 0), tzinfo=PARIS).astimezone(dt.UTC)
    await book(committed_client, auth, w, start=start, notify="both")
    await rounds(engine, configured, until=lambda: len(sent_sms(sink)) >= 1 and len(smtp.inbox.messages) >= 1)
    link = "/p/" + sent_sms(sink)[0]["text"].split(f"{PUBLIC_URL}/p/")[1].split()[0]
    confirmations = len(smtp.inbox.messages), len(sent_sms(sink))

    real = repository.still_pending
    acted: list[int] = []

    async def the_patient_acts_first(session, notice_id):  # the round has claimed its messages: he clicks now
        if not acted:
            acted.append((await committed_client.post(link + act)).status_code)
        return await real(session, notice_id)

    monkeypatch.setattr(repository, "still_pending", the_patient_acts_first)
    offset = (start - dt.timedelta(hours=2) - dt.datetime.now(dt.UTC)).total_seconds() + 2  # the reminders' time
    await rounds(engine, notice_settings(settings, smtp_url=smtp.url, sink=sink, notice_clock_offset_seconds=offset))
    assert acted == [200]
    reminders = [m for m in smtp.inbox.messages[confirmations[0]:] if "Rappel" in str(m[1]["Subject"])]
    assert reminders == [] and not any("Rappel" in s["text"] for s in sent_sms(sink)[confirmations[1]:])
    async with engine.connect() as conn:
        states = (await conn.execute(text("SELECT DISTINCT state FROM notices WHERE kind = 'reminder'"))).scalars()
        assert set(states) == {"withdrawn"}
