"""Each process keeps the territory scopes it read (the codes a user sees, with their CPTS): a CPTS created
through one worker is seen by every worker's searches within about a second (a trigger on the territories
bumps the registry's generation, which each process watches), never a minute later."""

from __future__ import annotations

import datetime as dt
import time

import httpx

from tests.console.helpers import _token
from tests.support.database import TEST_SECRET
from tests.support.factories import new_rpps
from tests.support.processes import served_app
from tests.support.serving import empty

# Within this many seconds of the CPTS's creation, every worker finds its slot (the watch reads every second).
DEADLINE_SECONDS = 2.5


def test_a_cpts_created_on_one_worker_is_in_every_workers_scope_within_a_second(database_url: str) -> None:
    env = {"SNP_JWT_SECRET": TEST_SECRET, "SNP_RELAY_ENABLED": "false", "SNP_RATE_LIMITS_ENABLED": "false",
           "SNP_REGISTRY_CHECK_SECONDS": "1"}
    try:
        with served_app(database_url, workers=2, extra_env=env) as base:
            admin = {"Authorization": f"Bearer {_token('admin', ())}"}
            regulator = {"Authorization": f"Bearer {_token('regulator', ('36',))}", "Connection": "close"}
            start = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
            window = {"territory": "36", "start_from": start.isoformat(),
                      "start_to": (start + dt.timedelta(hours=2)).isoformat()}
            with httpx.Client(base_url=base, timeout=10) as c:
                # Every worker keeps the Indre's scope as it stands: no CPTS yet.
                for _ in range(20):
                    assert c.get("/v1/slots/search", params=window, headers=regulator).json()["items"] == []
                made = c.post("/v1/territories", headers=admin, json={
                    "code": "36-scope", "name": "CPTS du Boischaut", "kind": "cpts", "parent_code": "36",
                    "timezone": "Europe/Paris"})
                assert made.status_code == 201, made.text
                created = time.monotonic()
                doctor = c.post("/v1/practitioners", headers=admin, json={
                    "rpps": new_rpps(), "family_name": "Aubert", "given_name": "Léa", "territory_codes": ["36-scope"]})
                site = c.post("/v1/sites", headers=admin, json={
                    "name": "Cabinet du Boischaut", "kind": "cabinet", "address": "1 rue Haute", "postcode": "36400",
                    "lat": 46.58, "lon": 1.99, "territory_code": "36-scope"})
                slot = c.post("/v1/slots", headers=admin, json={
                    "practitioner_id": doctor.json()["id"], "site_id": site.json()["id"], "mode": "in_person",
                    "start": (start + dt.timedelta(minutes=30)).isoformat(),
                    "end": (start + dt.timedelta(minutes=50)).isoformat()})
                assert slot.status_code == 201, slot.text
                seen_everywhere_at = None
                while time.monotonic() - created < DEADLINE_SECONDS + 3:
                    found = [[s["id"] for s in c.get("/v1/slots/search", params=window, headers=regulator)
                              .json()["items"]] for _ in range(10)]
                    if all(ids == [slot.json()["id"]] for ids in found):
                        seen_everywhere_at = time.monotonic() - created
                        break
                    time.sleep(0.05)
            print(f"\nthe new CPTS in every worker's scope after {seen_everywhere_at} s")
            assert seen_everywhere_at is not None and seen_everywhere_at < DEADLINE_SECONDS
    finally:
        empty(database_url)


def test_a_territorys_new_delays_set_on_one_worker_give_every_workers_calls_their_due_time_within_a_second(
    database_url: str,
) -> None:
    """A call's entry keeps its territory's facts (its delays among them) as the scopes are kept: a delay changed
    through one worker is the one every worker's new calls are due by, within about a second."""
    env = {"SNP_JWT_SECRET": TEST_SECRET, "SNP_RELAY_ENABLED": "false", "SNP_RATE_LIMITS_ENABLED": "false",
           "SNP_REGISTRY_CHECK_SECONDS": "1"}
    admin = {"Authorization": f"Bearer {_token('admin', ())}"}
    operator = {"Authorization": f"Bearer {_token('operator', ('36',))}", "Connection": "close"}
    call = {"territory_code": "36", "channel": "15", "priority": "P1", "patient": {"phone": "0254000000"}}

    def delay(c: httpx.Client) -> float:
        made = c.post("/v1/calls", headers=operator, json=call)
        assert made.status_code == 201, made.text
        body = made.json()
        return (dt.datetime.fromisoformat(body["due_at"]) - dt.datetime.fromisoformat(body["received_at"])) \
            .total_seconds() / 60

    with served_app(database_url, workers=2, extra_env=env) as base, httpx.Client(base_url=base, timeout=10) as c:
        before = c.get("/v1/territories/36", headers=admin).json()["priority_delays"]
        try:
            first = {delay(c) for _ in range(20)}  # every worker keeps the Indre's facts as they stand
            assert first == {float(before["P1"])}, first
            changed = c.patch("/v1/territories/36", headers=admin,
                              json={"priority_delays": {**before, "P1": before["P1"] + 7}})
            assert changed.status_code == 200, changed.text
            moved = time.monotonic()
            seen_everywhere_at = None
            while time.monotonic() - moved < DEADLINE_SECONDS + 3:
                if {delay(c) for _ in range(10)} == {float(before["P1"] + 7)}:
                    seen_everywhere_at = time.monotonic() - moved
                    break
                time.sleep(0.05)
            print(f"\nthe new delay in every worker's calls after {seen_everywhere_at} s")
            assert seen_everywhere_at is not None and seen_everywhere_at < DEADLINE_SECONDS
        finally:
            c.patch("/v1/territories/36", headers=admin, json={"priority_delays": before})
            empty(database_url)
