"""Every appointment reaches the SAMU's regulation software through the Hub Santé: a real RabbitMQ, the
service serving on loopback, and the test playing the Hub and the LRM. A booking, its cancellation and an
outcome arrive as RS-SAS-RDV messages in EDXL-DE / RC-DE envelopes that the Hub's own schemas accept,
in order; the LRM's acknowledgements and errors are recorded on the messages; and a broker stopped while
a regulator books loses nothing: the booking is told to the SAMU once the broker is back."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import httpx

from app.auth.tokens import create_token
from app.hub import messages
from app.platform.config import Settings
from tests.hub.conftest import SAMU, SENDER, HubAndLrm, example
from tests.support.broker import RabbitMQ
from tests.support.database import TEST_SECRET
from tests.support.factories import NEW_CALL, new_rpps
from tests.support.second_instance import sql
from tests.support.serving import served
from tests.support.waiting import wait_for

PARIS_WINTER = "+01:00"


def _headers(role: str, territories=("36",), **kw: Any) -> dict[str, str]:
    token = create_token(Settings(jwt_secret=TEST_SECRET), role=role, territories=list(territories), **kw)
    return {"Authorization": f"Bearer {token}"}


def _env(rabbit: RabbitMQ) -> dict[str, str]:
    return {"SNP_HUB_AMQP_URL": rabbit.url, "SNP_HUB_SENDER_ID": SENDER,
            "SNP_HUB_SAMU_IDS": json.dumps({"36": SAMU}), "SNP_HUB_PUBLISH_SECONDS": "0.2"}


def _setting_up(base: str, starts: list[dt.datetime]) -> dict[str, Any]:
    """The doctor of an MSP in the Indre, his slots, and the regulator the registry knows by name."""
    with httpx.Client(base_url=base, headers=_headers("admin", ())) as c:
        doctor = c.post("/v1/practitioners", json={"rpps": new_rpps(), "family_name": "Morel", "given_name": "Didier",
                                                   "specialty_code": "SM54", "territory_codes": ["36"]})
        assert doctor.status_code == 201, doctor.text
        site = c.post("/v1/sites", json={"name": "MSP d'Issoudun", "kind": "msp", "address": "4 rue Pierre",
                                         "postcode": "36100", "lat": 46.95, "lon": 1.99, "territory_code": "36"})
        slots = []
        for start in starts:
            made = c.post("/v1/slots", json={"practitioner_id": doctor.json()["id"], "site_id": site.json()["id"],
                                             "start": start.isoformat(),
                                             "end": (start + dt.timedelta(minutes=20)).isoformat(),
                                             "mode": "in_person"})
            assert made.status_code == 201, made.text
            slots.append(made.json())
        user = c.post("/v1/users", json={"subject": "dr-ricart", "national_id": "3620100057/70326SR",
                                         "display_name": "Dr Pauline Ricart",
                                         "family_name": "RICART", "given_name": "Pauline",
                                         "email": "pauline.ricart@ch-chateauroux.fr", "role": "regulator",
                                         "territories": ["36"]})
        assert user.status_code == 201, user.text
    return {"doctor": doctor.json(), "slots": slots}


def _book(c: httpx.Client, slot_id: str) -> dict[str, Any]:
    call = c.post("/v1/calls", json=NEW_CALL)
    assert call.status_code == 201, call.text
    booked = c.post("/v1/bookings", json={"slot_id": slot_id, "call_id": call.json()["id"]})
    assert booked.status_code == 201, booked.text
    return booked.json()


def _recorded(database_url: str, booking_id: str) -> list[tuple]:
    return sql(database_url, "SELECT method, status, recipient, acknowledged_at IS NOT NULL, ack_step, refused, "
                             "error_code, error_cause FROM hub_messages WHERE booking_id = :b ORDER BY sent_at",
               b=booking_id)


def test_bookings_cancellations_and_outcomes_reach_the_samu_as_the_hub_models_them(
    database_url: str, rabbit: RabbitMQ, hub: HubAndLrm
) -> None:
    # Winter, in the Indre: local times are +01:00.
    day = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    while day.month in (4, 5, 6, 7, 8, 9):
        day += dt.timedelta(days=30)
    starts = [dt.datetime.combine(day, dt.time(9 + i), dt.UTC) for i in range(3)]
    with served(database_url, _env(rabbit)) as base:
        world = _setting_up(base, starts)
        doctor = world["doctor"]
        regulator = _headers("regulator", sub="dr-ricart")
        with httpx.Client(base_url=base, headers=regulator) as c:
            first = _book(c, world["slots"][0]["id"])
            created = wait_for(lambda: hub.messages_for(first["id"]), lambda m: len(m) >= 1, seconds=30)
            assert len(created) == 1, created
            envelope = created[0]

            # The envelope, as the guide's table has it, and valid for the Hub's own schemas.
            assert messages.problems(envelope) == []
            assert envelope["senderID"] == SENDER
            assert envelope["distributionID"].startswith(f"{SENDER}_")
            assert envelope["distributionStatus"] == "Actual" and envelope["distributionKind"] == "Report"
            assert envelope["descriptor"] == {"language": "fr-FR", "explicitAddress": {
                "explicitAddressScheme": "Hubex", "explicitAddressValue": SAMU}}
            sent = dt.datetime.fromisoformat(envelope["dateTimeSent"])
            assert dt.datetime.fromisoformat(envelope["dateTimeExpires"]) - sent == dt.timedelta(days=1)
            header = messages.content(envelope)
            assert header["messageId"] == envelope["distributionID"] and header["kind"] == "Report"
            assert header["sender"] == {"name": SENDER, "URI": f"hubex:{SENDER}"}
            assert header["recipient"] == [{"name": SAMU, "URI": f"hubex:{SAMU}"}]

            # The appointment, element by element, as the guide's example of a doctor's appointment.
            appointment = header["appointment"]
            guide = example("RS-SAS-RDV_appointment_PS.01")["appointment"]
            assert appointment.keys() == guide.keys()
            assert appointment["appointmentId"] == first["id"]
            assert appointment["method"] == "CreateAppointment" and appointment["status"] == "booked"
            assert appointment["orientationCategory"] == "MSP"
            assert appointment["start"] == starts[0].astimezone(dt.timezone(dt.timedelta(hours=1))).isoformat()
            assert appointment["start"].endswith(PARIS_WINTER) and appointment["end"].endswith(PARIS_WINTER)
            assert appointment["practitioner"] == {
                "rppsId": "8" + doctor["rpps"], "lastName": "Morel", "firstName": "Didier",
                "specialityCode": "SM54", "specialityUrl": guide["practitioner"]["specialityUrl"],
                "professionCode": "10", "professionUrl": guide["practitioner"]["professionUrl"]}
            assert appointment["regulator"] == {"regulatorId": "3620100057/70326SR", "regulatorName": "RICART",
                                                "regulatorFirstname": "Pauline",
                                                "regulatorEmail": "pauline.ricart@ch-chateauroux.fr"}
            assert "patient" not in json.dumps(envelope).lower()

            # The LRM's final acknowledgement is recorded on the message.
            rows = wait_for(lambda: _recorded(database_url, first["id"]), lambda r: r and r[0][3], seconds=30)
            assert rows == [("CreateAppointment", "booked", SAMU, True, "INTEGRE", False, None, None)], rows

            # Cancelled: an update of the same appointment, after its creation; the LRM refuses it (409).
            hub.refuse.add(first["id"])
            assert c.post(f"/v1/bookings/{first['id']}/cancel", json={"reason": "rappel"}).status_code == 200
            both = wait_for(lambda: hub.messages_for(first["id"]), lambda m: len(m) >= 2, seconds=30)
            update = messages.content(both[1])["appointment"]
            assert (update["method"], update["status"]) == ("UpdateAppointment", "cancelled")
            assert messages.problems(both[1]) == []
            rows = wait_for(lambda: _recorded(database_url, first["id"]), lambda r: len(r) == 2 and r[1][6], seconds=30)
            assert rows[1][:2] == ("UpdateAppointment", "cancelled")
            assert rows[1][6:] == (409, "CONFLICT — l'identifiant du RDV à créer existe déjà"), rows

            # Honoured: the doctor's outcome becomes an update too.
            second = _book(c, world["slots"][1]["id"])
        sql(database_url, "UPDATE slots SET start_at = now() - interval '10 minutes', end_at = now() + interval "
                          "'10 minutes' WHERE id = :s", s=world["slots"][1]["id"])
        seen = httpx.post(f"{base}/v1/bookings/{second['id']}/outcome", json={"status": "fulfilled"},
                          headers=_headers("effector", practitioner_id=doctor["id"]))
        assert seen.status_code == 200, seen.text
        told = wait_for(lambda: hub.messages_for(second["id"]), lambda m: len(m) >= 2, seconds=30)
        assert [(messages.content(m)["appointment"]["method"], messages.content(m)["appointment"]["status"])
                for m in told] == [("CreateAppointment", "booked"), ("UpdateAppointment", "fulfilled")]
        assert all(messages.problems(m) == [] for m in told)

        # The broker goes away while a regulator books: the booking is made and acknowledged, and
        # reaches the SAMU once the broker is back, with nothing lost on the way.
        hub.stop()
        rabbit.stop()
        with httpx.Client(base_url=base, headers=regulator) as c:
            third = _book(c, world["slots"][2]["id"])
        time.sleep(2.0)
        assert _recorded(database_url, third["id"]) == []  # not told yet: the broker is down
        rabbit.start()
        hub.start()
        arrived = wait_for(lambda: hub.messages_for(third["id"]), lambda m: len(m) >= 1, seconds=90)
        assert [messages.content(m)["appointment"]["status"] for m in arrived][:1] == ["booked"], arrived
        rows = wait_for(lambda: _recorded(database_url, third["id"]), lambda r: r and r[0][3], seconds=90)
        assert rows and rows[0][3], rows
        # Every booking was told, each as many times as it changed (a repeat would carry the same id).
        ids = {messages.content(m)["appointment"]["appointmentId"] for m in hub.received}
        assert {first["id"], second["id"], third["id"]} <= ids
        assert len({m["distributionID"] for m in hub.received}) == len(
            {(messages.content(m)["appointment"]["appointmentId"], messages.content(m)["appointment"]["status"])
             for m in hub.received})


def test_the_guide_messages_and_ours_are_judged_by_the_same_hub_schemas() -> None:
    """The schemas are really applied: the guide's examples pass, a message missing what the Hub needs
    does not, and says why."""
    now = dt.datetime.now(dt.UTC)
    for name in ("RS-SAS-RDV_appointment_PS.01", "RS-SAS-RDV_appointment_PS.01-MAJ", "RS-SAS-RDV_appointment_CDS.01",
                 "RS-SAS-RDV_appointment_SOS.01"):
        envelope = messages.report(sender=SENDER, recipient=SAMU, distribution=f"{SENDER}_1",
                                   appointment=example(name)["appointment"], sent=now, ttl=dt.timedelta(hours=1))
        assert messages.problems(envelope) == [], name
    broken = example("RS-SAS-RDV_appointment_PS.01")["appointment"]
    broken["status"] = "lost"
    del broken["regulator"]
    broken["practitioner"]["rppsId"] = "10005681340"  # without the 8 of a national id
    envelope = messages.report(sender=SENDER, recipient=SAMU, distribution=f"{SENDER}_2", appointment=broken,
                               sent=now, ttl=dt.timedelta(hours=1))
    del envelope["dateTimeExpires"]
    found = "\n".join(messages.problems(envelope))
    for reason in ("'dateTimeExpires' is a required property", "'regulator' is a required property",
                   "'lost' is not one of", "practitioner/rppsId"):
        assert reason in found, found
    ack = messages.acknowledgement(sender=SAMU, recipient=SENDER, acknowledged=f"{SENDER}_1", sent=now)
    assert messages.problems(ack) == []
    assert messages.content(ack)["reference"] == example("RC-REF")["reference"] | {"distributionID": f"{SENDER}_1"}
