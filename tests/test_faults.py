"""Faults as tests: PostgreSQL killed in the middle of a booking load, on a real served app.

The embedded server dies (SIGKILL to its postmaster) while 120 clients book; the app answers JSON
503 with Retry-After meanwhile, starts the server again by itself, and the clients retry with their
Idempotency-Key. Afterwards every booking a client was told about exists, none twice, and every
retry completed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.platform.embedded import EmbeddedPostgres
from load_tests.harness import free_port
from tests.factories import create_practitioner, create_site
from tests.test_embedded import _admin, _serve, _stop, _wait_ready

BOOKINGS = 120


async def _seed(base: str) -> tuple[list[str], list[str]]:
    admin = _admin()
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        practitioner = await create_practitioner(c, admin, ["36"])
        site = await create_site(c, admin, "36")
        start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=2)
        slots = [{"practitioner_id": practitioner["id"], "site_id": site["id"], "mode": "in_person",
                  "start": (start + dt.timedelta(minutes=20 * i)).isoformat(),
                  "end": (start + dt.timedelta(minutes=20 * i + 20)).isoformat()} for i in range(BOOKINGS)]
        published = await c.post("/v1/slots/bulk", headers=admin, json={"slots": slots})
        assert published.status_code == 201, published.text
        calls = []
        for _ in range(BOOKINGS):
            made = await c.post("/v1/calls", headers=admin, json={"territory_code": "36", "channel": "15"})
            assert made.status_code == 201, made.text
            calls.append(made.json()["id"])
        return published.json()["ids"], calls


async def _book_until_answered(c: httpx.AsyncClient, slot: str, call: str, tally: dict) -> None:
    """One client: the same request and key until it gets an answer that is not 'try again'."""
    key = str(uuid.uuid4())
    headers = {**_admin(), "Idempotency-Key": key}
    for _ in range(200):
        try:
            response = await c.post("/v1/bookings", json={"slot_id": slot, "call_id": call}, headers=headers)
        except httpx.TransportError:
            tally["transport_errors"] += 1
            await asyncio.sleep(0.2)
            continue
        if response.status_code == 503:
            tally["503"] += 1
            assert response.json()["error"] == "Unavailable" and response.headers.get("Retry-After")
            await asyncio.sleep(0.2)
            continue
        assert response.status_code == 201, response.text
        tally["acknowledged"].append(response.json()["id"])
        if len(tally["acknowledged"]) == BOOKINGS // 6:
            tally["some_in"].set()
        if response.headers.get("Idempotent-Replayed") == "true":
            tally["replayed"] += 1
        return
    tally["gave_up"] += 1


def _found(database_url: str, acknowledged: list[str]) -> tuple[int, int, int]:
    """(acknowledged bookings found, slots booked twice, events) in the database."""

    async def read() -> tuple[int, int, int]:
        engine = create_async_engine(database_url)
        async with engine.connect() as conn:
            ids = {str(i) for i in (await conn.execute(text("SELECT id FROM bookings"))).scalars()}
            doubles = (await conn.execute(text(
                "SELECT count(*) FROM (SELECT slot_id FROM bookings WHERE status = 'active' "
                "GROUP BY slot_id HAVING count(*) > 1) d"))).scalar_one()
            events = (await conn.execute(text("SELECT count(*) FROM outbox_events"))).scalar_one()
        await engine.dispose()
        return len(ids & set(acknowledged)), doubles, events

    return asyncio.run(read())


def _book_through(base: str, database_url: str, fault: Callable[[], None], label: str) -> None:
    """120 clients book, ``fault`` strikes while many are in flight, every client retries with its key
    until answered; then every acknowledged booking is in the database, none twice, one event each."""
    slots, calls = asyncio.run(_seed(base))
    tally: dict = {"acknowledged": [], "503": 0, "transport_errors": 0, "replayed": 0, "gave_up": 0,
                   "some_in": asyncio.Event()}

    async def load() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=20, limits=httpx.Limits(max_connections=BOOKINGS)) as c:
            clients = [asyncio.create_task(_book_until_answered(c, slot, call, tally))
                       for slot, call in zip(slots, calls, strict=True)]
            await tally["some_in"].wait()  # some bookings are in, many in flight
            tally["before_fault"] = len(tally["acknowledged"])
            await asyncio.to_thread(fault)
            await asyncio.wait_for(asyncio.gather(*clients), timeout=120)

    began = time.monotonic()
    asyncio.run(load())
    elapsed = time.monotonic() - began
    present, doubles, events = _found(database_url, tally["acknowledged"])
    print(f"{label} bookings={BOOKINGS} acknowledged={len(tally['acknowledged'])} found={present} "
          f"503={tally['503']} transport_errors={tally['transport_errors']} replayed={tally['replayed']} "
          f"gave_up={tally['gave_up']} doubles={doubles} events={events} seconds={elapsed:.1f} "
          f"before_fault={tally['before_fault']}")
    assert tally["before_fault"] < BOOKINGS, "the fault struck after the load"
    assert tally["gave_up"] == 0
    assert len(tally["acknowledged"]) == BOOKINGS and present == BOOKINGS
    assert doubles == 0 and events == BOOKINGS


@pytest.mark.slow
def test_an_app_worker_killed_mid_request_loses_no_acknowledged_booking() -> None:
    data_dir = tempfile.mkdtemp(prefix="snp-fault-")
    env = {"SNP_DATA_DIR": data_dir, "SNP_RATE_LIMITS_ENABLED": "false"}
    # Migrated once before two workers start (several instances migrating together is issue 15's).
    subprocess.run([sys.executable, "-m", "app.cli", "migrate"], env={**os.environ, **env, "SNP_JWT_SECRET": "x" * 40},
                   check=True, capture_output=True)
    port = free_port()
    proc = _serve(env, port, output=Path(data_dir) / "app.log", workers=2)
    try:
        _wait_ready(port, proc)
        workers = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(proc.pid)], capture_output=True,
                                 text=True).stdout.splitlines()
        victim = next(int(line.split()[0]) for line in workers if "resource_tracker" not in line)
        _book_through(f"http://127.0.0.1:{port}", EmbeddedPostgres(data_dir).url(),
                      lambda: os.kill(victim, signal.SIGKILL), "WORKER FAULT")
    finally:
        _stop(proc)
        EmbeddedPostgres(data_dir).stop()  # started by `snp migrate`, so no worker stops it
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.mark.slow
def test_postgresql_killed_under_booking_load_loses_no_acknowledged_booking() -> None:
    data_dir = tempfile.mkdtemp(prefix="snp-fault-")
    port = free_port()
    # The app's log goes to a file: a pipe nobody reads fills up and stops the app at its next line.
    proc = _serve({"SNP_DATA_DIR": data_dir, "SNP_EMBEDDED_SUPERVISE_SECONDS": "0.5",
                   "SNP_RATE_LIMITS_ENABLED": "false"}, port, output=Path(data_dir) / "app.log")
    pidfile = Path(data_dir) / "pg" / "postmaster.pid"
    try:
        _wait_ready(port, proc)
        _book_through(f"http://127.0.0.1:{port}", EmbeddedPostgres(data_dir).url(),
                      lambda: os.kill(int(pidfile.read_text().splitlines()[0]), signal.SIGKILL), "FAULT")
    finally:
        _stop(proc)
        shutil.rmtree(data_dir, ignore_errors=True)
