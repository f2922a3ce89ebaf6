"""The two ways the app finds its database, each with a real server and a real uvicorn.

1. ``SNP_DATABASE_URL`` set: an ordinary PostgreSQL server (here a second embedded cluster started
   as a plain TCP server), migrated at start-up.
2. Unset: ``snp serve`` starts the embedded server in ``SNP_DATA_DIR``; stopping the app stops the
   server cleanly and a restart finds the data still there.
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from app.platform.embedded import EmbeddedPostgres
from tests.support.processes import free_port
from tests.support.snp_process import _admin, _serve, _stop, _wait_ready


@pytest.mark.slow
class TestDatabaseSelection:
    def test_the_app_runs_against_an_ordinary_server_through_snp_database_url(self) -> None:
        folder = tempfile.mkdtemp(prefix="snp-plain-")
        plain = EmbeddedPostgres(folder, port=free_port(), listen_tcp=True, database="plain")
        plain.start()
        port = free_port()
        proc = _serve({"SNP_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{plain.port}/plain"}, port)
        try:
            _wait_ready(port, proc)
            response = httpx.get(f"http://127.0.0.1:{port}/v1/territories/974", headers=_admin())
            assert response.status_code == 200
            assert response.json()["timezone"] == "Indian/Reunion"
        finally:
            _stop(proc)
            plain.stop()
        assert not (Path(folder) / "pg").joinpath("postmaster.pid").exists()

    def test_the_embedded_server_starts_with_the_app_stops_with_it_and_keeps_the_data(self) -> None:
        data_dir = tempfile.mkdtemp(prefix="snp-run-")
        env = {"SNP_DATA_DIR": data_dir}
        port = free_port()
        proc = _serve(env, port)
        try:
            _wait_ready(port, proc)
            body = {"code": "36-val-de-creuse", "name": "CPTS Val de Creuse", "kind": "cpts",
                    "parent_code": "36", "timezone": "Europe/Paris"}
            created = httpx.post(f"http://127.0.0.1:{port}/v1/territories", json=body, headers=_admin())
            assert created.status_code == 201, created.text
        finally:
            _stop(proc)
        assert not EmbeddedPostgres(data_dir).is_running(), "stopping the app stops the database"

        proc = _serve(env, port)
        try:
            _wait_ready(port, proc)
            again = httpx.get(f"http://127.0.0.1:{port}/v1/territories/36-val-de-creuse", headers=_admin())
            assert again.status_code == 200
        finally:
            _stop(proc)
        assert not EmbeddedPostgres(data_dir).is_running()

    def test_a_dead_embedded_server_is_started_again_by_the_app_itself(self) -> None:
        data_dir = tempfile.mkdtemp(prefix="snp-kill-")
        port = free_port()
        proc = _serve({"SNP_DATA_DIR": data_dir, "SNP_EMBEDDED_SUPERVISE_SECONDS": "0.5"}, port)
        url = f"http://127.0.0.1:{port}/v1/territories/36"
        pidfile = Path(data_dir) / "pg" / "postmaster.pid"
        try:
            _wait_ready(port, proc)
            killed = int(pidfile.read_text().splitlines()[0])
            os.kill(killed, signal.SIGKILL)
            began, statuses = time.monotonic(), []
            while time.monotonic() - began < 60:
                response = httpx.get(url, headers=_admin(), timeout=10)  # never a hang
                statuses.append(response.status_code)
                if response.status_code == 503:
                    assert response.json()["error"] == "Unavailable" and response.headers["Retry-After"]
                else:
                    assert response.status_code == 200, response.text
                    if pidfile.exists() and int(pidfile.read_text().splitlines()[0]) != killed:
                        break
                time.sleep(0.1)
            # Back without anyone restarting the app: a new postmaster, and answers again.
            assert int(pidfile.read_text().splitlines()[0]) != killed
            assert httpx.get(url, headers=_admin(), timeout=10).status_code == 200
            assert set(statuses) <= {200, 503}
        finally:
            _stop(proc)
        assert not EmbeddedPostgres(data_dir).is_running()
