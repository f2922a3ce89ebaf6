"""Automatic failover: a primary and two standbys run by Patroni (etcd as its store), under a served app
given the three hosts in one multi-host URL (``target_session_attrs=read-write``).

The leader's node dies under a booking load — its Patroni agent and its postmaster SIGKILLed together —
and Patroni promotes a standby without anyone's command; the app finds the new primary by itself, every
booking a client was told of is there, none twice, and the old primary comes back as a standby (pg_rewind
through Patroni). When only the postmaster dies, Patroni starts it again in place and the leader stays.
One cluster serves every case (each starts from a healthy cluster: a leader, two standbys streaming on
its timeline, one of them synchronous).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import psutil
import pytest

from app.platform import migrate
from app.platform.database import normalize_url
from tests.support.database import SEEDED, read_seed
from tests.support.factories import NEW_CALL
from tests.support.faults import _book_through
from tests.support.patroni import Cluster, missing, patroni_cluster
from tests.support.second_instance import sql
from tests.support.serving import _cleanup, served
from tests.support.snp_process import ROOT, SECRET, _admin
from tests.support.waiting import wait_for

# Skipped only on a developer's machine without etcd or Patroni; in CI (.ci/run) a missing one fails.
REQUIRED = bool(os.environ.get("SNP_REQUIRE_PATRONI") or os.environ.get("CI"))
pytestmark = [pytest.mark.slow, pytest.mark.skipif(missing() is not None and not REQUIRED, reason=missing() or "")]

# ttl 20 (Patroni 4 raises any lower value to 20) and loop_wait 2: the dead leader renewed its key at most 2 s
# before dying, so the key expires 18 to 20 s after; the standbys watch it and one promotes itself within a
# second; the app's next connection finds it (measured: 19 to 21 s). 30 s leaves room for a slow machine.
RTO_BOUND_SECONDS = 30
# Of the 120 clients, those that start once the old primary's processes are gone: under load, the backends
# a killed postmaster leaves may answer every client already in before they notice.
LATE = 20


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    problem = missing()
    if problem is not None:  # required here: a missing etcd or Patroni fails
        pytest.fail(problem)
    with patroni_cluster(prepare=migrate.upgrade) as made:
        if not SEEDED:  # what the served app's clean-up puts back
            asyncio.run(read_seed(normalize_url(made.url)))
        yield made


@pytest.fixture(scope="module")
def app(cluster: Cluster) -> Iterator[str]:
    """One served app for every case, given the three hosts for its writes and for its reads. The reads reach
    the synchronous standby first: the one Patroni promotes, which they must then leave for another."""
    sync = next(m["name"] for m in cluster.wait_healthy() if m["role"] == "sync_standby")
    with served(normalize_url(cluster.url), {"SNP_JWT_SECRET": SECRET,
                                             "SNP_DATABASE_REPLICA_URL": cluster.replica_url(sync)}) as base:
        yield base


def _replica_reads(base: str) -> float:
    """One search, then how many reads the app has made on the replica so far."""
    searched = httpx.get(base + "/v1/slots/search", params={"territory": "36"}, headers=_admin(), timeout=10)
    assert searched.status_code == 200, searched.text
    found = re.search(r'^snp_reads_total\{target="replica"\} (\S+)$', httpx.get(base + "/metrics").text, re.M)
    return float(found.group(1)) if found else 0.0


def test_patronis_own_metrics_name_what_the_no_primary_alert_reads(cluster: Cluster) -> None:
    """deploy/prometheus/alerts.yml's SnpNoPrimary sums ``patroni_primary`` over the nodes: each agent exports
    it, 1 on the leader and 0 on the standbys."""
    members = cluster.wait_healthy()
    primary = {}
    for member in members:
        text = httpx.get(f"http://127.0.0.1:{cluster.node(member['name']).api_port}/metrics", timeout=5).text
        found = re.search(r"^patroni_primary(?:\{[^}]*\})? (\S+)$", text, re.M)
        assert found, text[:2000]
        primary[member["name"]] = float(found.group(1))
    assert sorted(primary.values()) == [0.0, 0.0, 1.0]
    assert primary[next(m["name"] for m in members if m["role"] == "leader")] == 1.0


def test_the_leader_node_killed_under_bookings_a_standby_is_promoted_by_patroni_and_none_is_lost(
        cluster: Cluster, app: str) -> None:
    members = cluster.wait_healthy()
    old = next(m for m in members if m["role"] == "leader")
    # Synchronous replication: a booking acknowledged is on a second server before the client is told.
    assert [m["state"] for m in members if m["role"] == "sync_standby"] == ["streaming"], members
    victim = cluster.node(old["name"])
    moments: dict[str, float] = {}

    def node_dies() -> None:
        moments["killed"] = time.monotonic()
        orphans = victim.kill_node()
        # The dead postmaster's backends go on a moment with the connections they have (a commit they make
        # is still acknowledged by the synchronous standby): answers until they are gone may come from the
        # old primary. Then the late clients arrive. Nobody promotes anything: Patroni does, once the dead
        # leader's key has expired.
        psutil.wait_procs(orphans, timeout=10)
        moments["old_gone"] = time.monotonic()

    try:
        asyncio.run(_cleanup(normalize_url(cluster.url)))  # the load counts every event in the database
        tally = _book_through(app, normalize_url(cluster.url), node_dies, "PATRONI NODE KILLED", late=LATE)
        # The app writes on the new primary without any change of its configuration.
        made = httpx.post(app + "/v1/calls", headers=_admin(), json=NEW_CALL, timeout=30)
        assert made.status_code == 201, made.text

        # A standby took the leader's place, on a new timeline (the leader's entry says so within a loop or two).
        new = wait_for(cluster.leader, lambda m: m is not None and m["name"] != old["name"]
                       and m["timeline"] > old["timeline"], 10)
        assert new is not None and new["name"] != old["name"] and new["timeline"] > old["timeline"], \
            cluster.members()
        rto = min(t for t in tally["acknowledged_at"] if t > moments["old_gone"]) - moments["killed"]
        print(f"PATRONI FAILOVER rto_seconds={rto:.1f} (kill -> first booking acknowledged by the new primary) "
              f"old_backends_gone_after={moments['old_gone'] - moments['killed']:.2f}s "
              f"old_leader={old['name']} new_leader={new['name']} timeline={old['timeline']}->{new['timeline']}")
        assert rto < RTO_BOUND_SECONDS
    finally:
        # The old primary's node comes back (also after a failure above: the next cases need three nodes).
        if victim.proc is not None and victim.proc.poll() is not None:
            victim.start()

    # Patroni rewinds it onto the new timeline and it follows as a standby.
    members = cluster.wait_healthy(60)
    back = next(m for m in members if m["name"] == old["name"])
    assert back["role"] in ("replica", "sync_standby") and back["timeline"] == new["timeline"], members
    assert "running pg_rewind from " + new["name"] in victim.log_text(), victim.log_text()[-3000:]

    # The searches read a standby again: the replica URL names the three hosts, preferring a standby.
    before = _replica_reads(app)
    assert wait_for(lambda: _replica_reads(app), lambda n: n > before + 1, 20) > before + 1


def test_the_leader_postmaster_killed_alone_is_restarted_in_place_and_the_leader_stays(
        cluster: Cluster, app: str) -> None:
    members = cluster.wait_healthy()
    leader = next(m for m in members if m["role"] == "leader")
    node = cluster.node(leader["name"])
    before = node.postmaster()

    asyncio.run(_cleanup(normalize_url(cluster.url)))  # the load counts every event in the database
    _book_through(app, normalize_url(cluster.url), lambda: psutil.wait_procs(node.kill_postmaster(), timeout=10),
                  "PATRONI POSTMASTER KILLED", late=LATE)

    members = cluster.wait_healthy(60)
    same = next(m for m in members if m["role"] == "leader")
    assert (same["name"], same["timeline"]) == (leader["name"], leader["timeline"]), members
    assert node.postmaster() not in (None, before)
    assert "starting primary after failure" in node.log_text()


def test_snp_db_promote_refuses_a_server_patroni_manages(cluster: Cluster) -> None:
    """A manual promotion beside Patroni would make two primaries (split brain): the command refuses."""
    members = cluster.wait_healthy()
    standby = cluster.node(next(m["name"] for m in members if m["role"] != "leader"))
    done = subprocess.run([sys.executable, "-m", "app.cli", "db", "promote", "--url",
                           f"postgresql://postgres@127.0.0.1:{standby.pg_port}/snp"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "SNP_JWT_SECRET": "x" * 40})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Patroni" in done.stdout + done.stderr
    assert sql(standby.url, "SELECT pg_is_in_recovery()") == [(True,)]  # still a standby
