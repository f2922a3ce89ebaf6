"""``python -m tools.simulator demo`` (what ``make demo`` runs), as a person starts it: the queue holds live
calls of several priorities from the first minute, some taken by a regulator named in the registry and some
waiting; the demo keeps its database in a folder of its own beside ``make run``'s; one Ctrl-C stops the
simulator, the service and the database, and frees the port."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from app.auth.tokens import create_token
from app.platform.config import Settings
from tests.support.processes import free_port
from tools.simulator.plan import PROFILES, plan
from tools.simulator.run import Shift

ROOT = Path(__file__).resolve().parents[2]
SECRET = "demo-secret-demo-secret-demo-secret-demo"
READY = "Démo prête"


def _output(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _wait_for(path: Path, text: str, proc: subprocess.Popen[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = _output(path)
        if text in out:
            return out
        assert proc.poll() is None, f"the demo ended ({proc.returncode}):\n{out[-3000:]}"
        time.sleep(0.3)
    raise AssertionError(f"no {text!r} in {timeout} s:\n{_output(path)[-3000:]}")


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.slow
def test_the_demo_shows_a_live_queue_keeps_its_own_folder_and_stops_whole_on_one_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    run_folder = tmp_path / "data"  # `make run`'s folder, with its own data
    run_folder.mkdir()
    (run_folder / "kept").write_text("make run's")
    out = tmp_path / "demo.out"
    env = {k: v for k, v in os.environ.items() if k != "SNP_DATABASE_URL"}
    env.update(SNP_DATA_DIR=str(run_folder), SNP_JWT_SECRET=SECRET, SNP_RATE_LIMITS_ENABLED="false")
    with open(out, "wb") as sink:
        demo = subprocess.Popen([sys.executable, "-m", "tools.simulator", "demo", "--port", str(port),
                                 "--days", "0.2"], cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        printed = _wait_for(out, READY, demo, timeout=180)
        # What one needs is printed: a token per role with its tabs, an effector's id.
        for role in ("operator", "regulator", "effector", "urgences", "referrer", "coordinator", "analyst", "admin"):
            assert f"{role} — " in printed, printed
        assert "practitioner_id " in printed
        token = create_token(Settings(jwt_secret=SECRET), role="regulator", territories=["36"])
        queue: list[dict] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            answer = httpx.get(f"http://127.0.0.1:{port}/v1/calls", params={"open": "true"},
                               headers={"Authorization": f"Bearer {token}"}, timeout=10)
            assert answer.status_code == 200, answer.text
            queue = [c for c in answer.json() if c["source"] == "live"]
            if len(queue) >= 5 and any(c["assigned_name"] for c in queue):
                break
            time.sleep(0.5)
        # Live calls from the first minute: waiting ones of several priorities, others taken by a named regulator.
        waiting = [c for c in queue if c["status"] == "waiting"]
        taken = [c for c in queue if c["status"] == "in_progress"]
        assert len({c["priority"] for c in waiting}) >= 2, queue
        assert taken and all(c["assigned_name"].startswith("Dr ") for c in taken), taken
        # Still there a few seconds later: people take minutes, not milliseconds.
        time.sleep(3)
        again = httpx.get(f"http://127.0.0.1:{port}/v1/calls", params={"open": "true"},
                          headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
        assert {c["id"] for c in waiting} & {c["id"] for c in again if c["status"] == "waiting"}
        # Its own folder, beside make run's, which it did not touch.
        demo_folder = tmp_path / "data-demo"
        postmaster = (demo_folder / "pg" / "postmaster.pid").read_text().split()
        assert [p.name for p in run_folder.iterdir()] == ["kept"]
        started = [p.pid for p in psutil.Process(demo.pid).children(recursive=True)] + [int(postmaster[0])]
        assert len(started) >= 2  # the service, the database
        demo.send_signal(signal.SIGINT)  # one Ctrl-C
        assert demo.wait(timeout=90) == 0, _output(out)[-3000:]
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    # The service's job workers (a forkserver) leave once their parent is gone: a moment, not never.
    deadline = time.monotonic() + 15
    while not all(_gone(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert all(_gone(pid) for pid in started), [psutil.Process(p).cmdline() for p in started if not _gone(p)]
    assert not (demo_folder / "pg" / "postmaster.pid").exists()
    assert _port_free(port)
    assert "Démo arrêtée" in _output(out)


def test_people_take_minutes_hurried_no_more_than_five_times_life() -> None:
    calls = plan(PROFILES["indre"], dt.datetime(2026, 1, 5, 11, tzinfo=dt.UTC), 1.0)
    by_priority = {p: [Shift(60).queue_minutes(c) for c in calls if c.priority == p] for p in ("P1", "P2", "P3")}
    assert 1 <= min(by_priority["P1"]) and max(by_priority["P1"]) <= 4  # a P1 is taken within minutes
    assert max(by_priority["P3"]) > 20 and min(by_priority["P3"]) >= 8
    assert Shift(60).seconds(10) == 120  # arrivals at 60, people at 5 times life: 10 minutes take 2 on screen
    assert Shift(1).seconds(10) == 600  # in real time, real minutes
    assert Shift(0).seconds(10) == 0  # as fast as answered (the simulate command): nobody waits



def test_the_demo_joins_its_shift_with_its_backlog_at_night_too() -> None:
    """At 3 a.m. the Indre has one call or two before dawn: the demo (a fifth of a day ahead) still opens on a
    queue of ``backlog`` calls, the next to come, then plays its days from there; by day it plays its window."""
    from tools.simulator.cli import ahead
    from tools.simulator.plan import PROFILES, plan

    indre = PROFILES["indre"]
    night = dt.datetime(2026, 12, 8, 2, 0, tzinfo=dt.UTC)  # 3 a.m. in Paris
    assert len(plan(indre, night, 0.2, seed=1)) < 8
    calls = ahead(indre, night, 0.2, seed=1, backlog=8)
    assert len(calls) >= 8 and calls == sorted(calls, key=lambda c: c.at)
    assert calls[-1].at - calls[7].at <= dt.timedelta(days=0.2)
    noon = dt.datetime(2026, 12, 8, 11, 0, tzinfo=dt.UTC)
    assert ahead(indre, noon, 0.2, seed=1, backlog=8) == plan(indre, noon, 0.2, seed=1)
