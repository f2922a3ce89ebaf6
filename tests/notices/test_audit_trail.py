"""Every message sent to the patient is audited — who (the service), when, which channel, delivered or given up —
never its content nor where it went (the médecin traitant's reports: tests/notices/test_gp_report.py)."""

from __future__ import annotations

import asyncio
import datetime as dt

from tests.bookings.helpers import make_slot, world
from tests.notices.helpers import SmtpServer, notice_settings, rounds, sent_sms
from tests.support.processes import free_port

PATIENT = {"family_name": "Durand", "given_name": "Louise", "birth_year": 1984, "sex": "F",
           "phone": "06 47 38 29 10", "email": "louise.durand@example.fr"}


class TestPatientMessagesAudited:
    async def test_each_message_delivered_or_given_up_leaves_an_entry_without_its_content(
        self, committed_client, auth, engine, settings, tmp_path
    ) -> None:
        smtp = SmtpServer(free_port())  # never up: the e-mail is given up, the SMS goes
        sink = tmp_path / "sms.jsonl"
        configured = notice_settings(settings, smtp_url=smtp.url, sink=sink, notice_give_up_seconds=0.2)
        await rounds(engine, configured)
        w = await world(committed_client, auth)
        call = await committed_client.post("/v1/calls", json={
            "territory_code": "36", "channel": "15", "reason": "hématurie", "patient": PATIENT, "notify": "both",
            "notify_consent": "patient"}, headers=auth("operator", ["36"]))
        slot = await make_slot(committed_client, auth, w, start=dt.datetime.now(dt.UTC) + dt.timedelta(hours=3))
        booked = await committed_client.post("/v1/bookings", json={"slot_id": slot, "call_id": call.json()["id"]},
                                             headers=auth("regulator", ["36"]))
        assert booked.status_code == 201, booked.text

        async def trail() -> list[dict]:
            response = await committed_client.get("/v1/audit", params={
                "action": "message.sent", "call_id": call.json()["id"]}, headers=auth("admin", []))
            return response.json()

        for _ in range(100):  # the e-mail is given up 0.2 s on: rounds paced, not counted
            await rounds(engine, configured)
            if len(await trail()) >= 2:
                break
            await asyncio.sleep(0.05)
        entries = await trail()
        assert len(sent_sms(sink)) == 1
        outcomes = {(e["detail"]["channel"], e["detail"]["delivered"]) for e in entries}
        assert outcomes == {("sms", True), ("email", False)}
        for entry in entries:
            assert entry["actor_sub"] == "system" and entry["at"]
            assert entry["detail"]["kind"] == "confirmation" and entry["detail"]["booking_id"] == booked.json()["id"]
            flat = str(entry)
            assert "louise" not in flat.lower() and "47 38" not in flat and "+336" not in flat
