"""The patient's one-click cancel link: a GET shows the appointment and a button and changes nothing; a POST
frees the slot, marks the booking cancelled by the patient and puts the call back to the regulation's queue, once;
a second POST says it is already done; an altered or expired link is a French 404 page. The link is signed with
the key of every signed link, and the self-referral links keep working."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import text

from app.notices import links
from app.platform.config import Settings
from tests.bookings.helpers import make_call, make_slot, world


async def _booked(client, auth, connection):
    w = await world(client, auth, address="12 rue des Tanneurs")
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=3)
    slot = await make_slot(client, auth, w, start=start)
    call = await make_call(client, auth)
    booked = await client.post("/v1/bookings", json={"slot_id": slot, "call_id": call["id"]},
                               headers=auth("regulator"))
    assert booked.status_code == 201, booked.text
    return {"slot": slot, "call": call["id"], "booking": booked.json()["id"], "start": start}


async def _state(connection, placed) -> tuple[str, str, str | None, str]:
    row = (await connection.execute(text("""
        SELECT s.status AS slot, b.status AS booking, b.cancelled_by, c.status AS call
        FROM bookings b JOIN slots s ON s.id = b.slot_id JOIN calls c ON c.id = b.call_id WHERE b.id = :id"""),
        {"id": placed["booking"]})).one()
    return row.slot, row.booking, row.cancelled_by, row.call


class TestCancelLink:
    async def test_get_shows_the_appointment_and_a_button_and_changes_nothing(
        self, client, auth, connection, settings
    ) -> None:
        placed = await _booked(client, auth, connection)
        path = links.PATH + links.sign(settings.link_secret, uuid.UUID(placed["booking"]), placed["start"])
        for _ in range(3):  # a mail scanner, an SMS preview, the patient
            page = await client.get(path)
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            assert "12 rue des Tanneurs" in page.text and 'method="post"' in page.text
            assert "<script" not in page.text and 'lang="fr"' in page.text
            assert page.headers["cache-control"] == "no-store"
        assert (await _state(connection, placed))[:3] == ("booked", "active", None)

    async def test_post_frees_the_slot_once_and_puts_the_call_back_and_a_second_says_it_is_done(
        self, client, auth, connection, settings
    ) -> None:
        placed = await _booked(client, auth, connection)
        path = links.PATH + links.sign(settings.link_secret, uuid.UUID(placed["booking"]), placed["start"])
        first = await client.post(path)
        assert first.status_code == 200 and "Votre rendez-vous est annulé" in first.text
        assert await _state(connection, placed) == ("free", "cancelled", "patient", "to_reorient")
        call = (await client.get(f"/v1/calls/{placed['call']}", headers=auth("regulator"))).json()
        assert call["status"] == "to_reorient" and call["reorientation"]["by_role"] == "patient"
        second = await client.post(path)
        assert second.status_code == 200 and "déjà annulé" in second.text
        after = (await client.get(path)).text
        assert "déjà annulé" in after and 'method="post"' not in after
        events = (await connection.execute(text(
            "SELECT count(*) FROM outbox_events WHERE kind = 'booking.cancelled' AND payload->>'booking_id' = :id"),
            {"id": placed["booking"]})).scalar()
        assert events == 1  # cancelled once: the effector is told once

    async def test_an_altered_or_expired_link_is_a_french_404_page_and_cancels_nothing(
        self, client, auth, connection, settings
    ) -> None:
        placed = await _booked(client, auth, connection)
        token = links.sign(settings.link_secret, uuid.UUID(placed["booking"]), placed["start"])
        altered = token[:-1] + ("A" if token[-1] != "A" else "B")
        expired = links.sign(settings.link_secret, uuid.UUID(placed["booking"]),
                             dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        other_key = links.sign("another key", uuid.UUID(placed["booking"]), placed["start"])
        for bad in (altered, expired, other_key, "nothing"):
            response = await client.post(links.PATH + bad)
            assert response.status_code == 404 and "Lien expiré ou inconnu" in response.text, bad
        assert (await _state(connection, placed))[:2] == ("booked", "active")

    def test_the_token_names_the_booking_and_its_expiry_only(self) -> None:
        booking = uuid.uuid4()
        token = links.sign("k", booking, dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
        assert len(token) <= 50 and links.booking_of("k", token, dt.datetime(2029, 1, 1, tzinfo=dt.UTC)) == booking


class TestOneLinkKey:
    def test_the_link_key_is_snp_link_secret_and_the_former_name_still_works(self, monkeypatch) -> None:
        monkeypatch.setenv("SNP_SELF_REFERRAL_SECRET", "former")
        assert Settings(_env_file=None).link_secret == "former"
        monkeypatch.setenv("SNP_LINK_SECRET", "every-link")
        assert Settings(_env_file=None).link_secret == "every-link"
        monkeypatch.delenv("SNP_LINK_SECRET")
        monkeypatch.delenv("SNP_SELF_REFERRAL_SECRET")
        assert Settings(_env_file=None, jwt_secret="j" * 40).link_secret == "j" * 40

    async def test_a_self_referral_link_made_before_still_works(self, client, auth, settings) -> None:
        from app.calls import self_referral

        token = self_referral.sign(settings.link_secret, "36", dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
        response = await client.post(f"/v1/self-referrals/{token}", json={"phone": "0612345678"})
        assert response.status_code == 201, response.text
