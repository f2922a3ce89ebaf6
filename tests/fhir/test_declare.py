"""One instance of the service declares its bookings to another, as it would to the national SAS
platform: the FrAppointmentSAS of each booking, cancellation and outcome, from the outbox, in order, at
least once. The receiving instance is down while the first bookings are made: when it comes up, it
gets them all, in the order they happened (a booking then its cancellation ends cancelled), and its
own regulators can no longer give the declared slot to another patient."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.auth.tokens import create_token
from app.platform.config import Settings
from tests.support.database import TEST_SECRET
from tests.support.factories import NEW_CALL, new_rpps
from tests.support.processes import free_port, served_app
from tests.support.second_instance import database, sql
from tests.support.serving import served
from tests.support.waiting import wait_for

DATABASE = "snp_declared_to"
ENV = {"SNP_JWT_SECRET": TEST_SECRET, "SNP_RELAY_ENABLED": "false", "SNP_MIGRATE_ON_START": "true"}


def _headers(role: str, territories=("36",), **kw) -> dict[str, str]:
    token = create_token(Settings(jwt_secret=TEST_SECRET), role=role, territories=list(territories), **kw)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def receiver_database(database_url: str) -> Iterator[str]:
    """A second database on the same server: the receiving instance's own."""
    with database(database_url, DATABASE) as url:
        yield url


def _publish(base: str, rpps: str, starts: list[dt.datetime]) -> dict[str, Any]:
    """The doctor, his site and his slots (he publishes the same ones to both services)."""
    with httpx.Client(base_url=base, headers=_headers("admin", ())) as c:
        doctor = c.post("/v1/practitioners", json={"rpps": rpps, "family_name": "Girard", "given_name": "Paul",
                                                   "territory_codes": ["36"]}).json()
        site = c.post("/v1/sites", json={"name": "MSP d'Issoudun", "kind": "msp", "address": "4 rue Pierre",
                                         "postcode": "36100", "lat": 46.95, "lon": 1.99, "territory_code": "36"}).json()
        slots = []
        for start in starts:
            made = c.post("/v1/slots", json={"practitioner_id": doctor["id"], "site_id": site["id"],
                                             "start": start.isoformat(),
                                             "end": (start + dt.timedelta(minutes=20)).isoformat(),
                                             "mode": "in_person"})
            assert made.status_code == 201, made.text
            slots.append(made.json())
    return {"doctor": doctor, "site": site, "slots": slots}


def test_an_instance_declares_its_bookings_to_another_in_order_and_at_least_once(
    database_url: str, receiver_database: str
) -> None:
    rpps = new_rpps()
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    starts = [now + dt.timedelta(hours=2), now + dt.timedelta(hours=3)]
    # The receiving instance (the "platform") knows the doctor and his slots; then it goes down.
    with served_app(receiver_database, workers=1, extra_env=ENV) as receiver:
        published_there = _publish(receiver, rpps, starts)
    port = free_port()
    sender_env = {"SNP_PTF_SAS_FHIR_URL": f"http://127.0.0.1:{port}/fhir",
                  "SNP_PTF_SAS_TOKEN": create_token(Settings(jwt_secret=TEST_SECRET), role="platform", sub="snp-36"),
                  "SNP_PTF_SAS_DECLARE_SECONDS": "0.2"}
    with served(database_url, sender_env) as sender:
        here = _publish(sender, rpps, starts)
        # The regulator as the platform knows him (his national id): who booked, in each declaration.
        registered = httpx.post(f"{sender}/v1/users", headers=_headers("admin", ()), json={
            "subject": "dr-bernard", "national_id": "3456780581/11242343", "display_name": "Dr Bernard",
            "role": "regulator", "territories": ["36"]})
        assert registered.status_code == 201, registered.text
        regulator = _headers("regulator", sub="dr-bernard")
        with httpx.Client(base_url=sender, headers=regulator) as c:
            first = c.post("/v1/calls", json=NEW_CALL).json()
            booked = c.post("/v1/bookings", json={"slot_id": here["slots"][0]["id"], "call_id": first["id"]})
            assert booked.status_code == 201, booked.text
            assert c.post(f"/v1/bookings/{booked.json()['id']}/cancel", json={"reason": "rappel"}).status_code == 200
            second = c.post("/v1/calls", json=NEW_CALL).json()
            kept = c.post("/v1/bookings", json={"slot_id": here["slots"][1]["id"], "call_id": second["id"]})
            assert kept.status_code == 201, kept.text
        time.sleep(1.0)  # the declarer meets a closed door, and keeps its place

        with served_app(receiver_database, workers=1, extra_env=ENV, port=port) as receiver:
            def there() -> list[tuple]:
                return sql(receiver_database, "SELECT s.start_at, b.status, b.outcome, b.created_by, c.channel "
                                               "FROM bookings b JOIN slots s ON s.id = b.slot_id "
                                               "JOIN calls c ON c.id = b.call_id ORDER BY s.start_at")
            rows = wait_for(there, lambda r: [x[1] for x in r] == ["cancelled", "active"])
            assert [(x[0], x[1], x[3], x[4]) for x in rows] == [
                (starts[0], "cancelled", "snp-36", "autre"), (starts[1], "active", "snp-36", "autre")], rows

            # The declared slot holds its patient there too: the receiver's own regulators cannot give it away.
            local = _headers("regulator")
            with httpx.Client(base_url=receiver, headers=local) as c:
                call = c.post("/v1/calls", json=NEW_CALL).json()
                taken = c.post("/v1/bookings", json={"slot_id": published_there["slots"][1]["id"],
                                                     "call_id": call["id"]})
                assert taken.status_code == 409, taken.text
                freed = c.post("/v1/bookings", json={"slot_id": published_there["slots"][0]["id"],
                                                     "call_id": call["id"]})
                assert freed.status_code == 201, freed.text

            # The patient came: the outcome follows.
            for url in (database_url, receiver_database):
                sql(url, "UPDATE slots SET start_at = start_at - interval '3 hours 10 minutes', "
                          "end_at = end_at - interval '3 hours 10 minutes' WHERE start_at = :s", s=starts[1])
            effector = _headers("effector", practitioner_id=here["doctor"]["id"])
            seen = httpx.post(f"{sender}/v1/bookings/{kept.json()['id']}/outcome", json={"status": "fulfilled"},
                              headers=effector)
            assert seen.status_code == 200, seen.text
            rows = wait_for(there, lambda r: any(x[2] == "fulfilled" for x in r))
            declared = sorted((x[1], x[2]) for x in rows if x[3] == "snp-36")
            assert declared == [("active", "fulfilled"), ("cancelled", None)], rows
        sql(receiver_database, "TRUNCATE declared_appointments, bookings, calls, slots RESTART IDENTITY CASCADE")
