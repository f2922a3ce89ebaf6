"""Agenda sync: a doctor keeps one agenda. Another instance of the service plays his agenda editor (it
serves the guide's slot search); ``snp agenda sync`` makes our slots match the free ones it offers —
publishes, withdraws, gives back — and never touches one booked here; a second run changes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.auth.tokens import create_token
from app.platform.config import Settings
from tests.support.command_line import snp
from tests.support.database import TEST_SECRET
from tests.support.factories import NEW_CALL, new_rpps
from tests.support.processes import served_app
from tests.support.second_instance import database, sql
from tests.support.serving import served
from tests.support.waiting import wait_for

ENV = {"SNP_JWT_SECRET": TEST_SECRET, "SNP_RELAY_ENABLED": "false", "SNP_MIGRATE_ON_START": "true"}


def _headers(role: str, territories=("36",), **kw) -> dict[str, str]:
    token = create_token(Settings(jwt_secret=TEST_SECRET), role=role, territories=list(territories), **kw)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def editor(database_url: str) -> Iterator[dict[str, Any]]:
    """The doctor's agenda editor, with his slots."""
    with database(database_url, "snp_agenda_editor") as url, served_app(url, workers=1, extra_env=ENV) as base:
        yield {"base": base, "url": url}


def _publish(base: str, doctor: dict, site: dict, start: dt.datetime) -> dict:
    made = httpx.post(f"{base}/v1/slots", headers=_headers("admin", ()), json={
        "practitioner_id": doctor["id"], "site_id": site["id"], "start": start.isoformat(),
        "end": (start + dt.timedelta(minutes=20)).isoformat(), "mode": "home_visit"})
    assert made.status_code == 201, made.text
    return made.json()


def _world(base: str, rpps: str) -> tuple[dict, dict]:
    with httpx.Client(base_url=base, headers=_headers("admin", ())) as c:
        doctor = c.post("/v1/practitioners", json={"rpps": rpps, "family_name": "Morin", "given_name": "Jeanne",
                                                   "territory_codes": ["36"]}).json()
        site = c.post("/v1/sites", json={"name": "Cabinet Morin", "kind": "cabinet", "address": "8 rue Grande",
                                         "postcode": "36200", "lat": 46.58, "lon": 1.52, "territory_code": "36"}).json()
    return doctor, site


def _sync(database_url: str, monkeypatch, *args: str) -> str:
    result = snp(database_url, monkeypatch, "agenda", "sync", *args)
    assert result.exit_code == 0, result.output
    return result.output


def _counts(output: str) -> list[int]:
    """The report's row: offered, published, reopened, withdrawn, unchanged, kept, refused."""
    row = [line for line in output.splitlines() if line.startswith("│") and any(c.isdigit() for c in line)][-1]
    return [int(cell) for cell in row.strip("│ ").split("│")]


def test_snp_agenda_sync_keeps_one_agenda(database_url: str, editor, monkeypatch) -> None:
    rpps = new_rpps()
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    there_doctor, there_site = _world(editor["base"], rpps)
    there = [_publish(editor["base"], there_doctor, there_site, now + dt.timedelta(hours=h)) for h in (2, 3, 4)]
    token = create_token(Settings(jwt_secret=TEST_SECRET), role="platform", sub="snp-36")
    with served(database_url) as base:
        doctor, site = _world(base, rpps)
        args = ["--source", f"{editor['base']}/fhir", "--practitioner", rpps, "--site", site["id"], "--token", token]
        assert _counts(_sync(database_url, monkeypatch, *args)) == [3, 3, 0, 0, 0, 0, 0]
        effector = _headers("effector", practitioner_id=doctor["id"])

        def listed() -> dict[str, dict]:
            return {s["start"]: s for s in httpx.get(f"{base}/v1/slots", headers=effector,
                                                     params={"limit": 100}).json()}

        def mine() -> dict[str, str]:
            return {start: s["status"] for start, s in listed().items()}
        starts = sorted(mine())
        assert [dt.datetime.fromisoformat(s) for s in starts] == [now + dt.timedelta(hours=h) for h in (2, 3, 4)]
        assert _counts(_sync(database_url, monkeypatch, *args)) == [3, 0, 0, 0, 3, 0, 0]  # nothing changes twice

        # Here, the 3 h slot is booked; there, the doctor removes the 2 h and 3 h slots and opens a 5 h one.
        regulator = _headers("regulator")
        call = httpx.post(f"{base}/v1/calls", headers=regulator, json=NEW_CALL).json()
        ours = listed()
        booked = httpx.post(f"{base}/v1/bookings", headers=regulator,
                            json={"slot_id": ours[starts[1]]["id"], "call_id": call["id"]})
        assert booked.status_code == 201, booked.text
        for slot in there[:2]:
            assert httpx.delete(f"{editor['base']}/v1/slots/{slot['id']}", headers=_headers("admin", ())
                                ).status_code == 200
        _publish(editor["base"], there_doctor, there_site, now + dt.timedelta(hours=5))
        assert _counts(_sync(database_url, monkeypatch, *args)) == [2, 1, 0, 1, 1, 1, 0]
        after = mine()
        assert [after[s] for s in starts] == ["withdrawn", "booked", "free"]  # the patient keeps his appointment
        assert len(after) == 4

        # The editor offers the 2 h slot again: it is given back here.
        sql(editor["url"], "UPDATE slots SET status = 'free', withdrawn_at = NULL WHERE id = :id", id=there[0]["id"])
        assert _counts(_sync(database_url, monkeypatch, *args)) == [3, 0, 1, 0, 2, 1, 0]  # the booked one stays
        assert mine()[starts[0]] == "free"


def _source(database_url: str, rpps: str) -> tuple | None:
    rows = sql(database_url, "SELECT a.last_run_at IS NOT NULL, a.last_report, a.last_error, a.active "
                             "FROM agenda_sources a JOIN practitioners p ON p.id = a.practitioner_id "
                             "WHERE p.rpps = :r", r=rpps)
    return rows[0] if rows else None


def test_a_practitioners_agenda_is_pulled_on_a_schedule_through_the_outbound_guard(
    database_url: str, editor, monkeypatch
) -> None:
    """``snp agenda add`` configures the pull; every instance looks for the sources due and runs them, with
    what happened kept on the source. The editor is on loopback: allowed here by name, as an operator
    would allow a known editor; a source on a private address that is not allowed fails, and says why."""
    rpps = new_rpps()
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    there_doctor, there_site = _world(editor["base"], rpps)
    there = [_publish(editor["base"], there_doctor, there_site, now + dt.timedelta(hours=h)) for h in (2, 3)]
    token = create_token(Settings(jwt_secret=TEST_SECRET), role="platform", sub="snp-36")
    env = {"SNP_AGENDA_SYNC_SECONDS": "0.3", "SNP_WEBHOOK_ALLOWED_HOSTS": '["127.0.0.1"]'}
    with served(database_url, env) as base:
        doctor, site = _world(base, rpps)
        added = snp(database_url, monkeypatch, "agenda", "add", "--source", f"{editor['base']}/fhir",
                    "--practitioner", rpps, "--site", site["id"], "--token", token, "--every", "15m",
                    SNP_WEBHOOK_ALLOWED_HOSTS='["127.0.0.1"]')
        assert added.exit_code == 0, added.output
        state = wait_for(lambda: _source(database_url, rpps), lambda s: s is not None and s[0], seconds=20)
        assert state[2] is None, state
        assert (state[1]["offered"], state[1]["published"]) == (2, 2), state
        effector = _headers("effector", practitioner_id=doctor["id"])
        mine = httpx.get(f"{base}/v1/slots", headers=effector, params={"limit": 100}).json()
        assert sorted(dt.datetime.fromisoformat(s["start"]) for s in mine) == [
            now + dt.timedelta(hours=h) for h in (2, 3)]

        # The doctor removes one there; at the next run (its time brought forward) it is withdrawn here.
        assert httpx.delete(f"{editor['base']}/v1/slots/{there[0]['id']}", headers=_headers("admin", ())
                            ).status_code == 200
        sql(database_url, "UPDATE agenda_sources SET next_run_at = now(), last_run_at = NULL")
        state = wait_for(lambda: _source(database_url, rpps), lambda s: s[0], seconds=20)
        assert (state[1]["offered"], state[1]["withdrawn"]) == (1, 1), state
        listed = snp(database_url, monkeypatch, "agenda", "list")
        assert rpps in listed.output and "retirés 1" in listed.output, listed.output

        # A host that is not allowed is a private address: refused when configured, and refused when run.
        elsewhere = editor["base"].replace("127.0.0.1", "127.0.0.2") + "/fhir"
        refused = snp(database_url, monkeypatch, "agenda", "add", "--source", elsewhere, "--practitioner", rpps,
                      "--site", site["id"], SNP_WEBHOOK_ALLOWED_HOSTS="[]")
        assert refused.exit_code == 2 and "not a public address" in refused.output, refused.output
        sql(database_url, "UPDATE agenda_sources SET source_url = :u, next_run_at = now(), last_run_at = NULL",
            u=elsewhere)
        state = wait_for(lambda: _source(database_url, rpps), lambda s: s[0], seconds=20)
        assert state[1] is None and "not a public address" in (state[2] or ""), state
