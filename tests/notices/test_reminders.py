"""The reminder before the appointment: queued with the confirmation, sent by the sender at its time and not
before, none if booked within the delay, none at night (the evening before instead, or none), none once the
booking is cancelled, the consent withdrawn or the patient asked for none on his cancel page.

The clock is the database's: the tests move it with SNP_NOTICE_CLOCK_OFFSET_SECONDS, which the queueing and the
sender's statements add to PostgreSQL's now(); the bookings are real, made now, for appointments days ahead, so
the reminder's time and the night are those a real day would have."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from app.notices import messages, reminders
from app.platform.config import Settings
from tests.bookings.helpers import make_slot, world
from tests.notices.helpers import PUBLIC_URL, book, notice_settings, rounds, sent_sms

PARIS = ZoneInfo("Europe/Paris")
TWO_HOURS = dt.timedelta(hours=2)


def paris(days: int, hour: int, minute: int = 0) -> dt.datetime:
    """``days`` from today at hour:minute in Paris, in UTC."""
    day = dt.datetime.now(PARIS).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=PARIS).astimezone(dt.UTC)


def ahead(at: dt.datetime, seconds: float) -> float:
    """The clock offset that makes "now" ``seconds`` past ``at``."""
    return (at - dt.datetime.now(dt.UTC)).total_seconds() + seconds


async def _messages(client, auth, call) -> list[dict]:
    return (await client.get(f"/v1/calls/{call['id']}", headers=auth("regulator", ["36"]))).json()["messages"]


def _reminders(texts: list[str]) -> list[str]:
    return [t for t in texts if "rappel RDV" in t]


class TestWhen:
    """The rule, on its own (app/notices/reminders.py)."""

    def test_two_hours_before_by_day_given_up_at_the_start(self) -> None:
        start = dt.datetime(2027, 3, 10, 14, 0, tzinfo=PARIS)
        assert reminders.due(start, start - dt.timedelta(days=1), TWO_HOURS, "Europe/Paris") == (
            start - TWO_HOURS, start)

    def test_none_if_booked_within_the_delay(self) -> None:
        start = dt.datetime(2027, 3, 10, 14, 0, tzinfo=PARIS)
        assert reminders.due(start, start - dt.timedelta(minutes=119), TWO_HOURS, "Europe/Paris") is None

    def test_at_night_it_goes_the_evening_before_and_gives_up_when_the_night_starts(self) -> None:
        start = dt.datetime(2027, 3, 10, 9, 0, tzinfo=PARIS)  # 07:00 would be at night
        evening, night = reminders.due(start, start - dt.timedelta(days=2), TWO_HOURS, "Europe/Paris") or (None, None)
        assert evening == dt.datetime(2027, 3, 9, 20, 45, tzinfo=PARIS)
        assert night == dt.datetime(2027, 3, 9, 21, 0, tzinfo=PARIS)
        late = dt.datetime(2027, 3, 9, 23, 30, tzinfo=PARIS)  # 21:30 would be at night: that evening's 20:45
        assert reminders.due(late, late - dt.timedelta(days=1), TWO_HOURS, "Europe/Paris") == (
            dt.datetime(2027, 3, 9, 20, 45, tzinfo=PARIS), dt.datetime(2027, 3, 9, 21, 0, tzinfo=PARIS))

    def test_none_at_all_if_booked_after_the_evening_before(self) -> None:
        start = dt.datetime(2027, 3, 10, 9, 0, tzinfo=PARIS)
        assert reminders.due(start, dt.datetime(2027, 3, 9, 21, 30, tzinfo=PARIS), TWO_HOURS,
                             "Europe/Paris") is None

    def test_the_night_is_the_territory_s(self) -> None:
        start = dt.datetime(2027, 3, 10, 9, 0, tzinfo=ZoneInfo("Indian/Reunion"))
        due = reminders.due(start, start - dt.timedelta(days=2), TWO_HOURS, "Indian/Reunion")
        assert due is not None and due[0] == dt.datetime(2027, 3, 9, 20, 45, tzinfo=ZoneInfo("Indian/Reunion"))

    def test_the_delay_is_an_iso_8601_duration_or_seconds(self, monkeypatch) -> None:
        assert Settings(_env_file=None).reminder_before == TWO_HOURS
        for given, expected in (("PT90M", dt.timedelta(minutes=90)), ("5400", dt.timedelta(minutes=90)),
                                ("P1D", dt.timedelta(days=1))):
            monkeypatch.setenv("SNP_REMINDER_BEFORE", given)
            assert Settings(_env_file=None).reminder_before == expected
        for bad in ("0", "-60", "deux heures"):
            monkeypatch.setenv("SNP_REMINDER_BEFORE", bad)
            with pytest.raises(ValidationError):
                Settings(_env_file=None)

    def test_production_refuses_a_moved_clock(self) -> None:
        with pytest.raises(ValidationError, match="SNP_NOTICE_CLOCK_OFFSET_SECONDS"):
            Settings(_env_file=None, env="production", jwt_secret="j" * 40, public_url="https://snp.example.fr",
                     identity_keys={"k": "a" * 44}, identity_hash_key="b" * 44, notice_clock_offset_seconds=60)


class TestReminder:
    async def test_it_arrives_at_its_time_and_not_before(
        self, committed_client, auth, engine, settings, smtp, tmp_path
    ) -> None:
        sink = tmp_path / "sms.jsonl"
        configured = notice_settings(settings, smtp_url=smtp.url, sink=sink)
        await rounds(engine, configured)
        w = await world(committed_client, auth, address="12 rue des Tanneurs", postcode="36100")
        start = paris(1, 15)
        call, _ = await book(committed_client, auth, w, start=start)
        await rounds(engine, configured, until=lambda: len(sent_sms(sink)) >= 1 and len(smtp.inbox.messages) >= 1)
        due = {m["channel"]: m["due_at"] for m in await _messages(committed_client, auth, call)
               if m["kind"] == "reminder"}
        assert {c: dt.datetime.fromisoformat(d) for c, d in due.items()} == {"sms": start - TWO_HOURS,
                                                                              "email": start - TWO_HOURS}
        metrics = (await committed_client.get("/metrics")).text  # waiting for its time: not a message late
        assert 'snp_patient_messages{channel="sms",state="pending"} 0.0' in metrics
        assert 'snp_patient_messages_oldest_seconds{channel="sms",state="pending"} 0.0' in metrics

        await rounds(engine, notice_settings(settings, smtp_url=smtp.url, sink=sink,
                                             notice_clock_offset_seconds=ahead(start - TWO_HOURS, -60)), times=2)
        assert len(sent_sms(sink)) == 1 and len(smtp.inbox.messages) == 1  # a minute before: not yet

        at_its_time = notice_settings(settings, smtp_url=smtp.url, sink=sink,
                                      notice_clock_offset_seconds=ahead(start - TWO_HOURS, 2))
        await rounds(engine, at_its_time, until=lambda: len(sent_sms(sink)) >= 2 and len(smtp.inbox.messages) >= 2)
        await rounds(engine, at_its_time, times=2)
        assert len(sent_sms(sink)) == 2 and len(smtp.inbox.messages) == 2  # once
        sms = sent_sms(sink)[1]["text"]
        assert sms.startswith("SAS: rappel RDV") and "15h00" in sms and "12 rue des Tanneurs" in sms
        assert f"{PUBLIC_URL}/p/" in sms and messages.segments(sms)[0] == "gsm7" and messages.segments(sms)[1] <= 2
        mail = smtp.inbox.messages[1][1]
        assert str(mail["Subject"]).startswith("Rappel de votre rendez-vous médical")
        sent = [m for m in await _messages(committed_client, auth, call) if m["kind"] == "reminder"]
        assert {m["state"] for m in sent} == {"sent"} and all(m["due_at"] is None for m in sent)

    async def test_none_if_booked_within_the_delay(self, committed_client, auth, engine, settings, tmp_path) -> None:
        sink = tmp_path / "sms.jsonl"
        configured = notice_settings(settings, smtp_url=None, sink=sink)
        await rounds(engine, configured)
        w = await world(committed_client, auth)
        start = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=100)
        call, _ = await book(committed_client, auth, w, notify="sms", start=start)
        await rounds(engine, configured, until=lambda: len(sent_sms(sink)) >= 1)
        await rounds(engine, notice_settings(settings, smtp_url=None, sink=sink,
                                             notice_clock_offset_seconds=ahead(start, -60)), times=2)
        assert len(sent_sms(sink)) == 1
        assert [m["kind"] for m in await _messages(committed_client, auth, call)] == ["confirmation"]

    async def test_none_at_night_it_goes_the_evening_before(
        self, committed_client, auth, engine, settings, tmp_path
    ) -> None:
        sink = tmp_path / "sms.jsonl"
        configured = notice_settings(settings, smtp_url=None, sink=sink)
        await rounds(engine, configured)
        w = await world(committed_client, auth)
        start = paris(2, 8, 30)  # two hours before is 06:30, at night
        call, _ = await book(committed_client, auth, w, notify="sms", start=start)
        await rounds(engine, configured, until=lambda: len(sent_sms(sink)) >= 1)
        evening = paris(1, 20, 45)
        reminder = [m for m in await _messages(committed_client, auth, call) if m["kind"] == "reminder"]
        assert [dt.datetime.fromisoformat(m["due_at"]) for m in reminder] == [evening]
        await rounds(engine, notice_settings(settings, smtp_url=None, sink=sink,
                                             notice_clock_offset_seconds=ahead(evening, -60)), times=2)
        assert _reminders([s["text"] for s in sent_sms(sink)]) == []
        await rounds(engine, notice_settings(settings, smtp_url=None, sink=sink,
                                             notice_clock_offset_seconds=ahead(evening, 2)),
                     until=lambda: len(sent_sms(sink)) >= 2)
        assert "8h30" in _reminders([s["text"] for s in sent_sms(sink)])[0]

    async def test_a_reminder_the_sender_could_not_send_before_the_night_is_not_sent_in_it(
        self, committed_client, auth, engine, settings, tmp_path
    ) -> None:
        sink = tmp_path / "sms.jsonl"
        configured = notice_settings(settings, smtp_url=None, sink=sink)
        await rounds(engine, configured)
        w = await world(committed_client, auth)
        start = paris(2, 8, 30)
        call, _ = await book(committed_client, auth, w, notify="sms", start=start)
        await rounds(engine, configured, until=lambda: len(sent_sms(sink)) >= 1)
        # the sender was down from before 20:45 and comes back at 23:00
        await rounds(engine, notice_settings(settings, smtp_url=None, sink=sink,
                                             notice_clock_offset_seconds=ahead(paris(1, 23), 0)), times=2)
        assert len(sent_sms(sink)) == 1
        reminder = [m for m in await _messages(committed_client, auth, call) if m["kind"] == "reminder"][0]
        assert reminder["state"] == "failed" and "in time" in reminder["last_error"]

    async def test_none_after_the_booking_is_cancelled_or_the_consent_withdrawn(
        self, committed_client, auth, engine, settings, tmp_path
    ) -> None:
        sink = tmp_path / "sms.jsonl"
        configured = notice_settings(settings, smtp_url=None, sink=sink)
        await rounds(engine, configured)
        w = await world(committed_client, auth)
        start = paris(1, 15)
        cancelled_call, cancelled = await book(committed_client, auth, w, notify="sms", start=start)
        withdrawn_call, _ = await book(committed_client, auth, w, notify="sms", start=start + dt.timedelta(hours=1))
        await rounds(engine, configured, until=lambda: len(sent_sms(sink)) >= 2)
        response = await committed_client.post(f"/v1/bookings/{cancelled['id']}/cancel",
                                               headers=auth("regulator", ["36"]))
        assert response.status_code == 200, response.text
        response = await committed_client.patch(f"/v1/calls/{withdrawn_call['id']}", json={"notify": "none"},
                                                headers=auth("regulator", ["36"]))
        assert response.status_code == 200, response.text
        await rounds(engine, configured, until=lambda: len(sent_sms(sink)) >= 3)  # the cancellation's notice
        for call in (cancelled_call, withdrawn_call):  # withdrawn at once, not at their time
            assert [m["state"] for m in await _messages(committed_client, auth, call)
                    if m["kind"] == "reminder"] == ["withdrawn"]
        await rounds(engine, notice_settings(settings, smtp_url=None, sink=sink,
                                             notice_clock_offset_seconds=ahead(start, 3600)), times=2)
        texts = [s["text"] for s in sent_sms(sink)]
        assert len(texts) == 3 and _reminders(texts) == [] and "annulé" in texts[2]


class TestOptOut:
    async def test_the_cancel_page_stops_the_reminder_and_keeps_the_appointment(
        self, committed_client, auth, engine, settings, tmp_path
    ) -> None:
        sink = tmp_path / "sms.jsonl"
        configured = notice_settings(settings, smtp_url=None, sink=sink)
        await rounds(engine, configured)
        w = await world(committed_client, auth)
        start = paris(1, 15)
        call, booking = await book(committed_client, auth, w, notify="sms", start=start)
        await rounds(engine, configured, until=lambda: len(sent_sms(sink)) >= 1)
        path = "/p/" + sent_sms(sink)[0]["text"].split(f"{PUBLIC_URL}/p/")[1].split()[0]

        page = await committed_client.get(path)
        assert "Ne plus recevoir de rappel" in page.text and f'action="{path}/no-reminder"' in page.text
        assert "<script" not in page.text
        stopped = await committed_client.post(f"{path}/no-reminder")
        assert stopped.status_code == 200 and "Vous ne recevrez pas de rappel" in stopped.text
        assert stopped.headers["cache-control"] == "no-store"
        again = await committed_client.post(f"{path}/no-reminder")
        assert again.status_code == 200 and "Vous ne recevrez pas de rappel" in again.text
        page = await committed_client.get(path)
        assert "Ne plus recevoir de rappel" not in page.text and "Annuler ce rendez-vous" in page.text

        await rounds(engine, notice_settings(settings, smtp_url=None, sink=sink,
                                             notice_clock_offset_seconds=ahead(start - TWO_HOURS, 60)), times=2)
        assert len(sent_sms(sink)) == 1
        detail = (await committed_client.get(f"/v1/calls/{call['id']}", headers=auth("regulator", ["36"]))).json()
        assert [(m["kind"], m["state"]) for m in detail["messages"]] == [("confirmation", "sent"),
                                                                        ("reminder", "withdrawn")]
        assert [b["status"] for b in detail["bookings"] if b["id"] == booking["id"]] == ["active"]

    async def test_an_altered_link_stops_nothing(self, committed_client, auth, engine, settings, tmp_path) -> None:
        response = await committed_client.post("/p/nothing-valid/no-reminder")
        assert response.status_code == 404 and "Lien expiré ou inconnu" in response.text


class TestMoved:
    async def test_a_change_of_slot_is_told_as_moved_with_the_new_time_and_the_reminder_follows_it(
        self, committed_client, auth, engine, settings, smtp, tmp_path
    ) -> None:
        sink = tmp_path / "sms.jsonl"
        configured = notice_settings(settings, smtp_url=smtp.url, sink=sink)
        await rounds(engine, configured)
        w = await world(committed_client, auth)
        first = paris(1, 15)
        call, booking = await book(committed_client, auth, w, start=first)
        await rounds(engine, configured, until=lambda: len(sent_sms(sink)) >= 1 and len(smtp.inbox.messages) >= 1)
        later = paris(1, 17, 20)
        moved = await committed_client.post("/v1/bookings", json={
            "slot_id": await make_slot(committed_client, auth, w, start=later), "call_id": call["id"],
            "replaces": booking["id"]}, headers=auth("regulator", ["36"]))
        assert moved.status_code == 201, moved.text
        await rounds(engine, configured, until=lambda: len(sent_sms(sink)) >= 2 and len(smtp.inbox.messages) >= 2)
        await rounds(engine, configured, times=2)
        texts = [s["text"] for s in sent_sms(sink)]
        assert len(texts) == 2 and texts[1].startswith("SAS: RDV déplacé au") and "17h20" in texts[1]
        assert not any("annulé" in t for t in texts)  # the change is one message, not a cancellation
        assert messages.segments(texts[1])[1] <= 2
        mail = smtp.inbox.messages[1][1]
        assert str(mail["Subject"]).startswith("Rendez-vous déplacé") and len(smtp.inbox.messages) == 2

        kept = {(m["booking_id"], m["kind"], m["channel"]): m for m in await _messages(committed_client, auth, call)}
        assert kept[(booking["id"], "reminder", "sms")]["state"] == "withdrawn"
        assert dt.datetime.fromisoformat(kept[(moved.json()["id"], "reminder", "sms")]["due_at"]) == later - TWO_HOURS

        # the first reminder's time passes in silence; the new one goes at its own, with the new time
        await rounds(engine, notice_settings(settings, smtp_url=smtp.url, sink=sink,
                                             notice_clock_offset_seconds=ahead(first - TWO_HOURS, 60)), times=2)
        assert len(sent_sms(sink)) == 2
        await rounds(engine, notice_settings(settings, smtp_url=smtp.url, sink=sink,
                                             notice_clock_offset_seconds=ahead(later - TWO_HOURS, 2)),
                     until=lambda: len(sent_sms(sink)) >= 3)
        assert "17h20" in _reminders([s["text"] for s in sent_sms(sink)])[0]
