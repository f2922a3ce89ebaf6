"""Who booked is told to the national platform as the platform knows him, never as we would make him up:
FrAppointmentSAS's operator carries the regulator's national id (IDNPS) exactly as the platform gave it, or
his SAS technical id (INTRN). A booking by someone the users registry has no identifier for is parked —
visible to the administrator and in /metrics, the appointments of others going on without it — and is
declared, with what followed it, in order, as soon as his identifier is registered. A declaration the
platform refuses is kept and shown the same way, and sent again, in order, after a fix."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.auth.tokens import create_token
from app.fhir.appointments import SAS_TECHNICAL_ID, SYSTEM_PATH
from app.fhir.resources import IDENTIFIER_TYPE, PS_OID
from app.platform.config import Settings
from tests.fhir.platform import REFUSAL, Platform
from tests.support.command_line import snp
from tests.support.database import TEST_SECRET
from tests.support.factories import NEW_CALL, new_rpps
from tests.support.processes import free_port
from tests.support.serving import served
from tests.support.waiting import wait_for

IDNPS = "3456780581/11242343"  # the guide's own example of a regulator's national id
LATER_IDNPS = "3620100057/70326SR"
TECHNICAL = "c7a1e0d2-4f5b-4e8a-9c3d-2b1f0e9d8c7a"


def _headers(role: str, territories=("36",), **kw: Any) -> dict[str, str]:
    token = create_token(Settings(jwt_secret=TEST_SECRET), role=role, territories=list(territories), **kw)
    return {"Authorization": f"Bearer {token}"}


ADMIN = _headers("admin", ())


@pytest.fixture
def platform() -> Iterator[Platform]:
    with Platform(free_port()) as played:
        yield played


def _world(c: httpx.Client, slots: int) -> list[str]:
    doctor = c.post("/v1/practitioners", json={"rpps": new_rpps(), "family_name": "Morel", "given_name": "Didier",
                                               "territory_codes": ["36"]}).json()
    site = c.post("/v1/sites", json={"name": "MSP d'Issoudun", "kind": "msp", "address": "4 rue Pierre",
                                     "postcode": "36100", "lat": 46.95, "lon": 1.99, "territory_code": "36"}).json()
    start = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) + dt.timedelta(hours=2)
    made = []
    for n in range(slots):
        begins = start + dt.timedelta(minutes=30 * n)
        slot = c.post("/v1/slots", json={"practitioner_id": doctor["id"], "site_id": site["id"],
                                         "start": begins.isoformat(),
                                         "end": (begins + dt.timedelta(minutes=20)).isoformat(), "mode": "in_person"})
        assert slot.status_code == 201, slot.text
        made.append(slot.json()["id"])
    return made


def _regulator(c: httpx.Client, subject: str, **identifiers: str) -> None:
    made = c.post("/v1/users", json={"subject": subject, "display_name": f"Dr {subject}", "family_name": "RICART",
                                     "given_name": "Pauline", "email": "pauline.ricart@ghsas.fr",
                                     "role": "regulator", "territories": ["36"], **identifiers})
    assert made.status_code == 201, made.text


def _book(base: str, subject: str, slot_id: str) -> str:
    with httpx.Client(base_url=base, headers=_headers("regulator", sub=subject)) as c:
        call = c.post("/v1/calls", json=NEW_CALL).json()
        booked = c.post("/v1/bookings", json={"slot_id": slot_id, "call_id": call["id"]})
        assert booked.status_code == 201, booked.text
        return str(booked.json()["id"])


def _gauge(base: str, state: str) -> float:
    for line in httpx.get(f"{base}/metrics").text.splitlines():
        if line.startswith(f'snp_held_appointment_events{{reader="ptf",state="{state}"}}'):
            return float(line.split()[-1])
    raise AssertionError(f"no gauge for {state}")


def _idnps(value: str) -> dict[str, Any]:
    return {"type": {"coding": [{"system": IDENTIFIER_TYPE, "code": "IDNPS"}]}, "system": PS_OID, "value": value}


def test_the_operator_is_the_identifier_the_platform_gave_and_an_unidentified_booking_waits_parked(
    database_url: str, platform: Platform
) -> None:
    env = {"SNP_PTF_SAS_FHIR_URL": f"http://127.0.0.1:{platform.port}/fhir", "SNP_PTF_SAS_DECLARE_SECONDS": "0.2"}
    with served(database_url, env) as base:
        with httpx.Client(base_url=base, headers=ADMIN) as c:
            slots = _world(c, 3)
            _regulator(c, "dr-ricart", national_id=IDNPS)
            _regulator(c, "dr-sans-idnps", sas_technical_id=TECHNICAL)

        # First, a booking by someone the registry does not know; then two by regulators it knows.
        unknown = _book(base, "dr-inconnu", slots[0])
        national = _book(base, "dr-ricart", slots[1])
        technical = _book(base, "dr-sans-idnps", slots[2])

        # The two known ones go at once, the parked one before them holding up nothing.
        wait_for(lambda: platform.of(technical), bool)
        assert platform.of(national) == [("POST", "booked", _idnps(IDNPS))]
        assert platform.of(technical) == [("POST", "booked", {
            "type": {"coding": [{"system": IDENTIFIER_TYPE, "code": "INTRN"}]}, "system": SAS_TECHNICAL_ID,
            "value": TECHNICAL})]
        assert platform.of(unknown) == []

        # Parked, with its reason, for the administrator and in /metrics; its cancellation waits behind it.
        with httpx.Client(base_url=base, headers=_headers("regulator", sub="dr-inconnu")) as c:
            assert c.post(f"/v1/bookings/{unknown}/cancel", json={"reason": "rappel"}).status_code == 200
        held = wait_for(lambda: httpx.get(f"{base}/v1/declarations", headers=ADMIN).json(), lambda h: len(h) == 2)
        assert [(h["booking_id"], h["kind"], h["state"]) for h in held] == [
            (unknown, "booking.created", "parked"), (unknown, "booking.cancelled", "behind")], held
        assert "dr-inconnu" in held[0]["reason"] and "national id" in held[0]["reason"]
        parked = httpx.get(f"{base}/v1/declarations", params={"state": "parked"}, headers=ADMIN).json()
        assert [h["event_id"] for h in parked] == [held[0]["event_id"]]
        assert _gauge(base, "parked") == 1 and _gauge(base, "behind") == 1
        assert httpx.get(f"{base}/v1/declarations", headers=_headers("regulator")).status_code == 403

        # Registered with his national id: the booking and its cancellation go, in order, and nothing is held.
        with httpx.Client(base_url=base, headers=ADMIN) as c:
            _regulator(c, "dr-inconnu", national_id=LATER_IDNPS)
        told = wait_for(lambda: platform.of(unknown), lambda t: len(t) == 2)
        assert told == [("POST", "booked", _idnps(LATER_IDNPS)), ("PUT", "cancelled", _idnps(LATER_IDNPS))]
        assert wait_for(lambda: httpx.get(f"{base}/v1/declarations", headers=ADMIN).json(), lambda h: h == []) == []
        assert _gauge(base, "parked") == 0 and _gauge(base, "behind") == 0
        # Nothing made up: no identifier of ours under the platform's OID, no invented technical id.
        for _, _, body in platform.received:
            operator = body["extension"][0]["valueReference"]["identifier"]
            assert operator["value"] in (IDNPS, LATER_IDNPS, TECHNICAL), body
            # The appointment's identifier: the software's own system, a URL under the public URL.
            assert body["identifier"][0]["system"].endswith(SYSTEM_PATH), body
            assert body["identifier"][0]["value"] in (unknown, national, technical), body


def test_a_refused_declaration_is_kept_visible_and_sent_again_after_a_fix(
    database_url: str, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"SNP_PTF_SAS_FHIR_URL": f"http://127.0.0.1:{platform.port}/fhir", "SNP_PTF_SAS_DECLARE_SECONDS": "0.2"}
    with served(database_url, env) as base:
        with httpx.Client(base_url=base, headers=ADMIN) as c:
            slots = _world(c, 2)
            _regulator(c, "dr-ricart", national_id=IDNPS)
        # The platform does not know this doctor yet: it refuses his first appointment (422).
        platform.refusing = True
        refused = _book(base, "dr-ricart", slots[0])
        held = wait_for(lambda: httpx.get(f"{base}/v1/declarations", params={"state": "refused"},
                                          headers=ADMIN).json(), bool)
        assert [(h["booking_id"], h["kind"], h["status_code"]) for h in held] == [(refused, "booking.created", 422)]
        assert "HTTP 422" in held[0]["reason"] and REFUSAL in held[0]["reason"], held
        assert _gauge(base, "refused") == 1
        # Kept, not skipped: the next appointment goes, the refused one's cancellation waits behind it.
        platform.refusing = False
        accepted = _book(base, "dr-ricart", slots[1])
        wait_for(lambda: platform.of(accepted), bool)
        assert platform.of(accepted) == [("POST", "booked", _idnps(IDNPS))]
        with httpx.Client(base_url=base, headers=_headers("regulator", sub="dr-ricart")) as c:
            assert c.post(f"/v1/bookings/{refused}/cancel", json={"reason": "rappel"}).status_code == 200
        behind = wait_for(lambda: httpx.get(f"{base}/v1/declarations", headers=ADMIN).json(), lambda h: len(h) == 2)
        assert [h["state"] for h in behind] == ["refused", "behind"]
        time.sleep(1.0)
        assert platform.of(refused) == []  # nothing goes by itself: a refusal waits for a fix

        listed = snp(database_url, monkeypatch, "declarations", "list", "--state", "refused")
        assert listed.exit_code == 0 and "422" in listed.output and "refused" in listed.output, listed.output

        # The doctor is now known to the platform: `snp declarations retry` sends both, in order.
        result = snp(database_url, monkeypatch, "declarations", "retry")
        assert result.exit_code == 0, result.output
        assert "1 déclaration" in result.output
        told = wait_for(lambda: platform.of(refused), lambda t: len(t) == 2)
        assert [(m, s) for m, s, _ in told] == [("POST", "booked"), ("PUT", "cancelled")]
        assert wait_for(lambda: httpx.get(f"{base}/v1/declarations", headers=ADMIN).json(), lambda h: h == []) == []
        assert _gauge(base, "refused") == 0


def test_the_regulations_appointments_are_declared_not_the_eds_redirections_nor_a_referrers_own_booking(
    database_url: str, platform: Platform
) -> None:
    env = {"SNP_PTF_SAS_FHIR_URL": f"http://127.0.0.1:{platform.port}/fhir", "SNP_PTF_SAS_DECLARE_SECONDS": "0.2"}
    with served(database_url, env) as base:
        with httpx.Client(base_url=base, headers=ADMIN) as c:
            slots = _world(c, 3)
            _regulator(c, "dr-ricart", national_id=IDNPS)
        patient = {"family_name": "Leroy", "given_name": "Anne", "birth_year": 1961, "phone": "02 54 11 22 33"}
        redirected = httpx.post(f"{base}/v1/bookings", headers=_headers("urgences", sub="ioa-chateauroux"),
                                json={"slot_id": slots[0], "patient": patient, "reason": "entorse"})
        assert redirected.status_code == 201, redirected.text
        referred = httpx.post(f"{base}/v1/bookings", json={"slot_id": slots[1], "patient": patient,
                                                           "reason": "plaie à suturer"},
                              headers=_headers("referrer", sub="ide-bourg", referrer_kind="nurse"))
        assert referred.status_code == 201, referred.text
        regulated = _book(base, "dr-ricart", slots[2])

        wait_for(lambda: platform.of(regulated), bool)
        time.sleep(1.0)  # the events before it were read in the same rounds
        assert platform.of(regulated) == [("POST", "booked", _idnps(IDNPS))]
        assert platform.of(redirected.json()["id"]) == [] and platform.of(referred.json()["id"]) == []
        # Not declared is not held: nothing waits for them.
        assert httpx.get(f"{base}/v1/declarations", headers=ADMIN).json() == []
