"""The identifier system of the appointments we declare is the software's own: a URL under SNP_PUBLIC_URL
(the guide: "une URL propre à la solution éditeur"), fixed the first time it is used and kept whatever the
public URL becomes; the appointments booked before it keep their old system (the booking's id as a URN) in
their updates, so that the platform still finds them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from app.fhir import appointments
from app.fhir.appointments import LEGACY_SYSTEM, SYSTEM_PATH
from app.platform.config import get_settings
from tests.bookings.helpers import make_call
from tests.fhir.helpers import _world


async def test_ours_is_a_url_under_the_public_url_and_the_older_ones_keep_theirs(client, auth, connection,
                                                                                  monkeypatch) -> None:
    # What an earlier test's rolled-back transaction fixed is not in this one's database: read afresh.
    appointments.forget_systems()
    w = await _world(client, auth)
    regulator = auth("regulator", ["36"])
    call = await make_call(client, auth)
    booked = await client.post("/v1/bookings", json={"slot_id": w["slot"]["id"], "call_id": call["id"]},
                               headers=regulator)
    assert booked.status_code == 201, booked.text
    booking_id = booked.json()["id"]
    platform = auth("platform", [])

    read = (await client.get(f"/fhir/Appointment/{booking_id}", headers=platform)).json()
    fixed = (await connection.execute(text("SELECT system FROM identifier_systems WHERE name = 'appointment'"))
             ).scalar_one()
    assert read["identifier"] == [{"system": fixed, "value": booking_id}]
    assert fixed.endswith(SYSTEM_PATH) and fixed.startswith(("http://", "https://"))

    # Another public URL later (read afresh) changes nothing: the system was fixed once.
    appointments.forget_systems()
    monkeypatch.setenv("SNP_PUBLIC_URL", "https://ailleurs.example.fr")
    get_settings.cache_clear()
    try:
        again = (await client.get(f"/fhir/Appointment/{booking_id}", headers=platform)).json()
    finally:
        get_settings.cache_clear()
        appointments.forget_systems()
    assert again["identifier"] == read["identifier"]

    # Booked before our system was fixed: it keeps the system it was declared under.
    since = (await connection.execute(text("SELECT since FROM identifier_systems WHERE name = 'legacy'"))
             ).scalar_one()
    await connection.execute(text("UPDATE bookings SET created_at = :t WHERE id = :b"),
                             {"t": since - dt.timedelta(days=1), "b": booking_id})
    older = (await client.get(f"/fhir/Appointment/{booking_id}", headers=platform)).json()
    assert older["identifier"] == [{"system": LEGACY_SYSTEM, "value": f"urn:uuid:{booking_id}"}]
