"""The patient is told of his appointment through the outbox: a booking queues its confirmation (never waiting
for it), the sender delivers it once by SMTP (a real server on loopback) and to the SMS sink, in the territory's
local time with the doctor and the address; a patient who wants nothing gets nothing; a provider down for a
while gets everything once back, in order, none twice; a message given up shows on the call and in /metrics."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from sqlalchemy import text

from app.notices import messages
from tests.bookings.helpers import world
from tests.notices.helpers import PATIENT, PUBLIC_URL, SmtpServer, local, notice_settings, rounds, sent_sms
from tests.notices.helpers import book as _book
from tests.support.processes import free_port


def _tomorrow(hour_utc: int, minute: int = 30) -> dt.datetime:
    day = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    return day.replace(hour=hour_utc, minute=minute, second=0, microsecond=0)


class TestConfirmation:
    async def test_a_booking_is_confirmed_once_by_email_and_sms_in_local_time_with_the_address(
        self, committed_client, auth, engine, settings, smtp, tmp_path
    ) -> None:
        sink = tmp_path / "sms.jsonl"
        configured = notice_settings(settings, smtp_url=smtp.url, sink=sink)
        await rounds(engine, configured)  # the reader's cursor starts here
        w = await world(committed_client, auth, address="12 rue des Tanneurs", postcode="36100")
        start = _tomorrow(13)
        call, booking = await _book(committed_client, auth, w, start=start)
        await rounds(engine, configured, until=lambda: len(smtp.inbox.messages) >= 1 and len(sent_sms(sink)) >= 1)
        await rounds(engine, configured, times=3)  # nothing more comes: once
        assert len(smtp.inbox.messages) == 1 and len(sent_sms(sink)) == 1

        paris = local(start.isoformat(), "Europe/Paris")
        hour = f"{paris.hour}h{paris.minute:02d}"
        recipients, mail = smtp.inbox.messages[0]
        assert recipients == [PATIENT["email"]]
        assert mail.is_multipart() and mail["Auto-Submitted"] == "auto-generated"
        parts = {part.get_content_type(): part for part in mail.walk()}
        assert {"text/plain", "text/html", "text/calendar"} <= parts.keys()
        plain = parts["text/plain"].get_payload(decode=True).decode()
        assert hour in plain and "12 rue des Tanneurs" in plain and "36100" in plain
        assert "Dr " + w.practitioner["given_name"] in plain and "carte Vitale" in plain
        assert "hématurie" not in mail.as_string()
        assert f"{PUBLIC_URL}/p/" in plain
        ics = parts["text/calendar"].get_payload(decode=True).decode()
        assert "TZID=Europe/Paris" in ics and paris.strftime("%Y%m%dT%H%M%S") in ics
        message_ids = [n["id"] for n in (await committed_client.get(
            f"/v1/calls/{call['id']}", headers=auth("regulator", ["36"]))).json()["messages"]]
        assert mail["Message-ID"].strip("<>").split("@")[0] in message_ids

        sms = sent_sms(sink)[0]
        assert sms["to"] == "+33647382910" and sms["id"] in message_ids
        assert hour in sms["text"] and "hématurie" not in sms["text"] and sms["text"].startswith("SAS")
        assert "non lues" in sms["text"] and messages.segments(sms["text"])[1] <= 2

        detail = (await committed_client.get(f"/v1/calls/{call['id']}", headers=auth("regulator", ["36"]))).json()
        assert {(m["kind"], m["channel"], m["state"]) for m in detail["messages"]} == {
            ("confirmation", "sms", "sent"), ("confirmation", "email", "sent"),
            ("reminder", "sms", "pending"), ("reminder", "email", "pending")}  # tomorrow, two hours before
        assert {m["booking_id"] for m in detail["messages"]} == {booking["id"]}

        # the link of the SMS cancels (once), and the patient is told of it on both channels
        path = "/p/" + sms["text"].split(f"{PUBLIC_URL}/p/")[1].split()[0]
        assert "Votre rendez-vous est annulé" in (await committed_client.post(path)).text
        await rounds(engine, configured, until=lambda: len(smtp.inbox.messages) >= 2 and len(sent_sms(sink)) >= 2)
        assert "annulé" in str(smtp.inbox.messages[1][1]["Subject"]) and "annulé" in sent_sms(sink)[1]["text"]
        again = (await committed_client.get(f"/v1/calls/{call['id']}", headers=auth("regulator", ["36"]))).json()
        assert again["status"] == "to_reorient"
        assert {m["state"] for m in again["messages"] if m["kind"] == "reminder"} == {"withdrawn"}

    async def test_an_overseas_appointment_is_told_in_its_own_time_to_its_own_mobile_range(
        self, committed_client, auth, engine, settings, tmp_path
    ) -> None:
        sink = tmp_path / "sms.jsonl"
        configured = notice_settings(settings, smtp_url=None, sink=sink)
        await rounds(engine, configured)
        w = await world(committed_client, auth, territory="974", postcode="97400", lat=-20.88, lon=55.45,
                        address="3 rue de Paris")
        start = _tomorrow(6)
        await _book(committed_client, auth, w, notify="sms", start=start, territory="974",
                    patient={**PATIENT, "phone": "0692 12 34 56", "postcode": "97400"})
        await rounds(engine, configured, until=lambda: len(sent_sms(sink)) >= 1)
        sms = sent_sms(sink)[0]
        reunion = local(start.isoformat(), "Indian/Reunion")
        assert sms["to"] == "+262692123456" and f"{reunion.hour}h{reunion.minute:02d}" in sms["text"]

    async def test_a_patient_who_wants_nothing_receives_nothing(
        self, committed_client, auth, engine, settings, smtp, tmp_path
    ) -> None:
        sink = tmp_path / "sms.jsonl"
        configured = notice_settings(settings, smtp_url=smtp.url, sink=sink)
        await rounds(engine, configured)
        w = await world(committed_client, auth)
        call, _ = await _book(committed_client, auth, w, notify="none")
        await rounds(engine, configured, times=3)
        assert smtp.inbox.messages == [] and sent_sms(sink) == []
        detail = (await committed_client.get(f"/v1/calls/{call['id']}", headers=auth("regulator", ["36"]))).json()
        assert detail["messages"] == []

    async def test_a_teleconsultation_says_the_doctor_calls_back_and_a_home_visit_that_he_comes(
        self, committed_client, auth, engine, settings, tmp_path
    ) -> None:
        sink = tmp_path / "sms.jsonl"
        configured = notice_settings(settings, smtp_url=None, sink=sink)
        await rounds(engine, configured)
        w = await world(committed_client, auth)
        await _book(committed_client, auth, w, notify="sms", mode="teleconsultation")
        await _book(committed_client, auth, w, notify="sms", mode="home_visit",
                    start=dt.datetime.now(dt.UTC) + dt.timedelta(hours=5))
        await rounds(engine, configured, until=lambda: len(sent_sms(sink)) >= 2)
        texts = [s["text"] for s in sent_sms(sink)]
        assert any("le médecin vous rappelle" in t for t in texts)
        assert any("le médecin vient chez vous" in t for t in texts)


class TestProviderDown:
    async def test_a_provider_down_for_a_while_gets_everything_once_back_in_order_none_twice(
        self, committed_client, auth, engine, settings, tmp_path
    ) -> None:
        smtp = SmtpServer(free_port())  # down at first
        configured = notice_settings(settings, smtp_url=smtp.url, sink=None)
        await rounds(engine, configured)
        w = await world(committed_client, auth)
        bookings = []
        for hours in (3, 4, 5):
            _, booking = await _book(committed_client, auth, w, notify="email",
                                     start=dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours))
            bookings.append(booking)
        await rounds(engine, configured, times=3)  # tried, failed, kept
        async with engine.connect() as conn:
            pending = (await conn.execute(text("SELECT count(*) FROM notices WHERE state = 'pending' "
                                               "AND attempts >= 1"))).scalar()
        assert pending >= 1
        smtp.start()
        try:
            await rounds(engine, configured, until=lambda: len(smtp.inbox.messages) >= 3)
            # the first booking is cancelled once its confirmation went: its cancellation follows it
            cancelled = await committed_client.post(f"/v1/bookings/{bookings[0]['id']}/cancel",
                                                    headers=auth("regulator", ["36"]))
            assert cancelled.status_code == 200, cancelled.text
            await rounds(engine, configured, until=lambda: len(smtp.inbox.messages) >= 4)
            await rounds(engine, configured, times=3)
        finally:
            smtp.stop()
        ids = [m["Message-ID"] for _, m in smtp.inbox.messages]
        assert len(ids) == len(set(ids)) == 4
        subjects = [str(m["Subject"]) for _, m in smtp.inbox.messages]
        assert subjects[-1].startswith("Rendez-vous annul")

    async def test_a_message_given_up_shows_on_the_call_and_in_metrics(
        self, committed_client, auth, engine, settings
    ) -> None:
        smtp = SmtpServer(free_port())  # never up
        configured = notice_settings(settings, smtp_url=smtp.url, sink=None, notice_give_up_seconds=0.2)
        await rounds(engine, configured)
        w = await world(committed_client, auth)
        call, _ = await _book(committed_client, auth, w, notify="email")

        async def state() -> str:
            detail = (await committed_client.get(f"/v1/calls/{call['id']}",
                                                 headers=auth("regulator", ["36"]))).json()
            return detail["messages"][0]["state"] if detail["messages"] else "none"

        for _ in range(100):  # given up 0.2 s on: rounds paced, not counted (a fast machine ran 40 in less)
            await rounds(engine, configured)
            if await state() == "failed":
                break
            await asyncio.sleep(0.05)
        detail = (await committed_client.get(f"/v1/calls/{call['id']}", headers=auth("regulator", ["36"]))).json()
        message = detail["messages"][0]
        assert message["state"] == "failed" and message["failed_at"] and message["last_error"]
        metrics = (await committed_client.get("/metrics")).text
        assert 'snp_patient_messages{channel="email",state="failed"} 1.0' in metrics


class TestSmsLength:
    def test_the_longest_realistic_sms_stays_within_two_segments(self) -> None:
        from app.notices import links

        start = dt.datetime(2026, 12, 24, 13, 45, tzinfo=dt.UTC)
        url = links.url("https://sas-cpts-val-de-loire.example.fr", "k", uuid.uuid4(), start)
        longest = messages.Appointment(
            booking_id=uuid.uuid4(), message_id=uuid.uuid4(), kind="confirmation", start=start,
            end=start + dt.timedelta(minutes=20), timezone="Europe/Paris", mode="in_person",
            doctor_given="Marie-Françoise", doctor_family="Vandenberghe-Delacroix de Saint-Étienne",
            site_name="Maison de santé pluriprofessionnelle", postcode="36000", child=True, cancel_url=url,
            address="Résidence Les Châtaigniers, bâtiment B, 128 avenue du Maréchal de Lattre de Tassigny",
            phone="02 54 00 00 00", sender="SAS 36")
        text_ = messages.sms(longest)
        encoding, count = messages.segments(text_)
        assert encoding == "gsm7" and count <= 2, (len(text_), text_)
        cancelled = messages.sms(longest.__class__(**{**longest.__dict__, "kind": "cancellation"}))
        assert messages.segments(cancelled)[1] <= 2
        reminder = messages.sms(longest.__class__(**{**longest.__dict__, "kind": "reminder"}))
        assert reminder.startswith("SAS 36: rappel RDV") and messages.segments(reminder) == ("gsm7", 2)
        moved = messages.sms(longest.__class__(**{**longest.__dict__, "kind": "moved"}))
        assert moved.startswith("SAS 36: RDV déplacé au") and messages.segments(moved) == ("gsm7", 2)

    def test_one_letter_outside_gsm7_makes_the_message_ucs2(self) -> None:
        assert messages.segments("a" * 160) == ("gsm7", 1)
        assert messages.segments("a" * 161) == ("gsm7", 2)
        assert messages.segments("â" + "a" * 69) == ("ucs2", 1)
        assert messages.segments("â" + "a" * 70) == ("ucs2", 2)
        assert messages.gsm7_fold("bâtiment Châtaigniers ç œ") == "batiment Chataigniers c oe"


class TestWithdrawnConsent:
    async def test_a_withdrawn_consent_stops_the_pending_messages(
        self, committed_client, auth, engine, settings, tmp_path
    ) -> None:
        smtp = SmtpServer(free_port())  # down: the confirmation waits
        configured = notice_settings(settings, smtp_url=smtp.url, sink=None)
        await rounds(engine, configured)
        w = await world(committed_client, auth)
        call, _ = await _book(committed_client, auth, w, notify="email")
        await rounds(engine, configured, times=2)
        withdrawn = await committed_client.patch(f"/v1/calls/{call['id']}", json={"notify": "none"},
                                                 headers=auth("regulator", ["36"]))
        assert withdrawn.status_code == 200, withdrawn.text
        smtp.start()
        try:
            await rounds(engine, configured, times=4)
            await asyncio.sleep(0.3)
            await rounds(engine, configured, times=2)
        finally:
            smtp.stop()
        assert smtp.inbox.messages == []
        detail = (await committed_client.get(f"/v1/calls/{call['id']}", headers=auth("regulator", ["36"]))).json()
        assert [m["state"] for m in detail["messages"]] == ["withdrawn"]
