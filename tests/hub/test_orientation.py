"""An orientation names its own structure to the SAMU (RS-SAS-RDV ``orientationCategory`` and
``organization``): an MSP's appointment names the MSP — by its FINESS, prefixed 1 — never the CPTS it
lies in; a practitioner's own practice in a CPTS is the CPTS's orientation, with the CPTS's FINESS. Built
from the real booking's row (app/outbox/appointments.py), as the Hub publisher builds it."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.hub import messages
from app.outbox import appointments as projection
from tests.support.factories import NEW_CALL, create_practitioner

CPTS_FINESS, MSP_FINESS = "360000012", "360001234"


async def _booked_at(client, auth, territory: str, **site: object) -> uuid.UUID:
    """A booking by a regulator of a slot at a new site of ``territory``."""
    admin = auth("admin")
    doctor = await create_practitioner(client, admin, ["36"])
    made = await client.post("/v1/sites", json={"name": "MSP Saint-Jean", "kind": "msp", "address": "2 rue de la Gare",
                                                "postcode": "36000", "lat": 46.81, "lon": 1.69,
                                                "territory_code": territory, **site}, headers=admin)
    assert made.status_code == 201, made.text
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)).replace(second=0, microsecond=0)
    slot = await client.post("/v1/slots", json={"practitioner_id": doctor["id"], "site_id": made.json()["id"],
                                                "start": start.isoformat(),
                                                "end": (start + dt.timedelta(minutes=20)).isoformat(),
                                                "mode": "in_person"}, headers=admin)
    assert slot.status_code == 201, slot.text
    regulator = auth("regulator", ["36"])
    call = await client.post("/v1/calls", json=NEW_CALL, headers=regulator)
    assert call.status_code == 201, call.text
    booked = await client.post("/v1/bookings", json={"slot_id": slot.json()["id"], "call_id": call.json()["id"]},
                               headers=regulator)
    assert booked.status_code == 201, booked.text
    return uuid.UUID(booked.json()["id"])


async def _told(connection, booking_id: uuid.UUID) -> dict:
    async with AsyncSession(bind=connection, join_transaction_mode="create_savepoint") as session:
        row = (await projection.rows(session, [booking_id]))[booking_id]
    return messages.appointment(projection.told(row, projection.CREATED))


async def test_an_msp_orientation_names_the_msp_not_its_cpts(client, auth, connection) -> None:
    cpts = await client.post("/v1/territories", json={"code": "36-chateauroux", "name": "CPTS Châteauroux Agglo",
                                                      "kind": "cpts", "parent_code": "36", "finess": CPTS_FINESS},
                             headers=auth("admin"))
    assert cpts.status_code == 201, cpts.text

    msp = await _told(connection, await _booked_at(client, auth, "36-chateauroux", finess=MSP_FINESS))
    assert msp["orientationCategory"] == "MSP"
    assert msp["organization"] == {"organizationId": "1" + MSP_FINESS, "name": "MSP Saint-Jean"}

    unknown = await _told(connection, await _booked_at(client, auth, "36-chateauroux"))
    assert unknown["orientationCategory"] == "MSP" and "organization" not in unknown  # never the CPTS's

    practice = await _told(connection, await _booked_at(client, auth, "36-chateauroux", kind="cabinet",
                                                        name="Cabinet du Dr Foret"))
    assert practice["orientationCategory"] == "CPTS"
    assert practice["organization"] == {"organizationId": "1" + CPTS_FINESS, "name": "CPTS Châteauroux Agglo"}

    for envelope_of in (msp, unknown, practice):
        envelope = messages.report(sender="fr.health.snp", recipient="fr.health.samu360", distribution="x_1",
                                   appointment=envelope_of, sent=dt.datetime.now(dt.UTC), ttl=dt.timedelta(hours=1))
        assert messages.problems(envelope) == []


async def test_a_sites_finess_is_checked_and_read_back(client, auth) -> None:
    admin = auth("admin")
    site = {"name": "MSP Saint-Jean", "kind": "msp", "address": "2 rue de la Gare", "postcode": "36000",
            "lat": 46.81, "lon": 1.69, "territory_code": "36"}
    made = await client.post("/v1/sites", json={**site, "finess": MSP_FINESS}, headers=admin)
    assert made.status_code == 201 and made.json()["finess"] == MSP_FINESS, made.text
    assert (await client.get(f"/v1/sites/{made.json()['id']}", headers=admin)).json()["finess"] == MSP_FINESS
    wrong = await client.post("/v1/sites", json={**site, "finess": "360001235"}, headers=admin)
    assert wrong.status_code == 422 and "finess" in str(wrong.json()["field"]), wrong.text
