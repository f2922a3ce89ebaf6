"""A primary and its streaming replica, two real PostgreSQL clusters from the same binaries, made with the
commands an operator types (``snp db replica``, ``snp db promote``), under served apps.

Reads (search, statistics) go to the replica within the allowed lag and to the primary when it lags,
when it is gone, or when what they look for was written a moment ago; writes always go to the primary.
Then the primary dies under a booking load, the replica is promoted, the app finds the new primary by
itself (a multi-host URL with target_session_attrs=read-write), and no acknowledged booking is lost.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.platform.config import Settings
from app.platform.database import make_engine, normalize_url
from app.platform.embedded import EmbeddedPostgres
from app.platform.replica import ReplicaMonitor
from tests.support.factories import NEW_CALL, new_rpps
from tests.support.faults import _book_through
from tests.support.processes import free_port
from tests.support.second_instance import sql
from tests.support.snp_process import ROOT, _admin, _serve, _stop, _wait_ready
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow


@dataclass
class Pair:
    folder: Path
    primary: EmbeddedPostgres
    replica: EmbeddedPostgres

    def url(self, cluster: EmbeddedPostgres) -> str:
        return f"postgresql://postgres@127.0.0.1:{cluster.port}/snp"

    @property
    def both(self) -> str:
        """The multi-host URL the app is given: whichever of the two accepts writes."""
        return (f"postgresql://postgres@127.0.0.1:{self.primary.port},127.0.0.1:{self.replica.port}/snp"
                "?target_session_attrs=read-write")


def snp(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "SNP_JWT_SECRET": "x" * 40})
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture
def pair() -> Iterator[Pair]:
    folder = Path(tempfile.mkdtemp(prefix="snp-pair-"))
    primary = EmbeddedPostgres(folder / "primary", port=free_port(), listen_tcp=True)
    replica = EmbeddedPostgres(folder / "replica", port=free_port(), listen_tcp=True)
    try:
        primary.start()
        made = snp("db", "replica", "--primary", f"postgresql://postgres@127.0.0.1:{primary.port}/snp",
                   "--data", str(replica.data_dir), "--port", str(replica.port), "--synchronous")
        assert made.stdout.strip() == f"postgresql+asyncpg://postgres@127.0.0.1:{replica.port}/snp"
        yield Pair(folder, primary, replica)
    finally:
        for cluster in (replica, primary):
            if cluster.is_running():
                cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _serving(env: dict[str, str], folder: Path, name: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = _serve({"SNP_RATE_LIMITS_ENABLED": "false", **env}, port, output=folder / f"{name}.log")
    try:
        _wait_ready(port, proc)
    except AssertionError:
        _stop(proc)
        raise AssertionError((folder / f"{name}.log").read_text()[-3000:]) from None
    return proc, f"http://127.0.0.1:{port}"


def _metric(base: str, name: str, labels: str = "") -> float:
    text = httpx.get(base + "/metrics").text
    found = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


async def _without_primary(replica_url: str) -> tuple[bool, float | None]:
    nowhere = make_engine(normalize_url(f"postgresql://postgres@127.0.0.1:{free_port()}/snp"), Settings())
    replica = make_engine(normalize_url(replica_url), Settings())
    try:
        monitor = ReplicaMonitor(nowhere, replica, max_lag_seconds=0.5)
        monitor.pending.append((monitor.clock() - 10, 2**62))  # seen ten seconds ago, never replayed
        state = await monitor.check()
        return state.usable, state.lag_seconds
    finally:
        await nowhere.dispose()
        await replica.dispose()


def test_reads_go_to_the_replica_within_the_lag_and_to_the_primary_when_it_lags_or_is_gone(pair: Pair) -> None:
    primary_url, replica_url = pair.url(pair.primary), pair.url(pair.replica)
    # Two instances on the same pair: one that tolerates any lag, one that tolerates half a second.
    patient, strict = (
        _serving({"SNP_DATABASE_URL": pair.both, "SNP_DATABASE_REPLICA_URL": replica_url,
                  "SNP_REPLICA_MAX_LAG_SECONDS": lag, "SNP_REPLICA_CHECK_SECONDS": "0.1"}, pair.folder, name)
        for lag, name in (("3600", "patient"), ("0.5", "strict")))
    (a, base_a), (b, base_b) = patient, strict
    admin = _admin()
    try:
        with httpx.Client(headers=admin, timeout=30) as c:
            doctor = c.post(base_a + "/v1/practitioners", json={
                "rpps": new_rpps(), "family_name": "Roux", "given_name": "Marc", "territory_codes": ["36"]}).json()
            site = c.post(base_a + "/v1/sites", json={"name": "MSP du Blanc", "kind": "msp", "address": "3 rue Haute",
                          "postcode": "36300", "lat": 46.63, "lon": 1.06, "territory_code": "36"}).json()

            def publish(hours: int) -> None:
                start = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)).replace(microsecond=0)
                made = c.post(base_a + "/v1/slots", json={
                    "practitioner_id": doctor["id"], "site_id": site["id"], "mode": "in_person",
                    "start": start.isoformat(), "end": (start + dt.timedelta(minutes=20)).isoformat()})
                assert made.status_code == 201, made.text

            def found(base: str, **params: str) -> int:
                response = c.get(base + "/v1/slots/search", params={"territory": "36", **params})
                assert response.status_code == 200, response.text
                return len(response.json()["items"])

            publish(2)
            assert wait_for(lambda: (found(base_a), found(base_b)), lambda n: n == (1, 1), 20) == (1, 1)
            assert wait_for(lambda: _metric(base_b, "snp_reads_total", '{target="replica"}'), lambda n: n > 0, 20) > 0

            # The replica stops replaying (it still receives and acknowledges the WAL): a new slot is on the
            # primary only.
            sql(normalize_url(replica_url), "SELECT pg_wal_replay_pause()")
            publish(3)
            assert sql(normalize_url(primary_url),
                       "SELECT count(*) FROM slots") == [(2,)]
            # Within its allowed lag, the patient instance reads the replica: one slot.
            assert found(base_a) == 1
            # The strict one sees the lag pass half a second, and reads the primary: two slots.
            assert wait_for(lambda: found(base_b), lambda n: n == 2, 20) == 2
            assert _metric(base_b, "snp_replica_lag_seconds") > 0.5
            before = _metric(base_b, "snp_reads_total", '{target="primary"}')
            assert found(base_b) == 2
            assert _metric(base_b, "snp_reads_total", '{target="primary"}') == before + 1

            # A call taken a moment ago is not on the replica yet: its search is answered from the primary.
            call = c.post(base_a + "/v1/calls", json={"territory_code": "36", "channel": "15",
                                                     "patient": {"postcode": "36300", "phone": "0611223344"}})
            assert call.status_code == 201, call.text
            assert found(base_a, call_id=call.json()["id"]) == 2
            # The statistics read there too, and answer.
            month = dt.datetime.now(dt.UTC).strftime("%Y-%m")
            report = c.get(base_a + "/v1/stats/monthly", params={"territory": "36", "from": month, "to": month})
            assert report.status_code == 200, report.text

            # Replay again: the strict instance comes back to the replica.
            sql(normalize_url(replica_url), "SELECT pg_wal_replay_resume()")
            assert wait_for(lambda: _metric(base_b, "snp_replica_lag_seconds"), lambda lag: lag == 0.0, 20) == 0.0
            before = _metric(base_b, "snp_reads_total", '{target="replica"}')
            assert found(base_b) == 2
            assert _metric(base_b, "snp_reads_total", '{target="replica"}') == before + 1

            # No primary to reach: a position it reported before going (a crash loses what was not sent)
            # cannot hold the replica back — it is the freshest copy left.
            assert asyncio.run(_without_primary(replica_url)) == (True, 0.0)

            # The replica goes away: the very next search is answered, from the primary.
            pair.replica.stop()
            assert found(base_a) == 2 and found(base_b) == 2
            assert _metric(base_a, "snp_replica_lag_seconds") == -1
    finally:
        _stop(a)
        _stop(b)


def test_the_replica_promoted_when_the_primary_dies_under_bookings_loses_no_acknowledged_one(pair: Pair) -> None:
    """120 clients book through an app given both hosts; the primary is killed (SIGKILL) while many are in
    flight and the replica promoted with one command; every client retries with its Idempotency-Key until
    answered. Every booking a client was told of is on the new primary, none twice, one event each."""
    proc, base = _serving({"SNP_DATABASE_URL": pair.both,
                           "SNP_DATABASE_REPLICA_URL": pair.url(pair.replica)}, pair.folder, "failover")

    def fail_over() -> None:
        os.kill(int((pair.primary.pgdata / "postmaster.pid").read_text().splitlines()[0]), signal.SIGKILL)
        # Past the allowed lag (2 s) with no primary: the replica still answers the searches.
        time.sleep(2.5)
        searched = httpx.get(base + "/v1/slots/search", params={"territory": "36"}, headers=_admin(), timeout=10)
        assert searched.status_code == 200, searched.text
        promoted = snp("db", "promote", "--url", pair.url(pair.replica))
        assert "promoted" in promoted.stderr

    try:
        _book_through(base, normalize_url(pair.url(pair.replica)), fail_over,
                      "FAILOVER")
        # The app writes to the new primary by itself, and reads there (the old replica is no standby now).
        made = httpx.post(base + "/v1/calls", headers=_admin(), json=NEW_CALL)
        assert made.status_code == 201, made.text
    finally:
        _stop(proc)
