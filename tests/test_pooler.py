"""Three app instances started together behind PgBouncer (Debian's, session pooling) on one PostgreSQL.

The app keeps no state of its own: the instances migrate the empty database once (an advisory lock,
which session pooling keeps), their connections keep their time limits through the pooler, patients
racing for one slot across the three get it once, each webhook leaves once although every instance
runs the relay, and the statistics count each call once although every instance folds the rollup.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from app.auth.tokens import create_token
from app.platform.config import Settings
from app.platform.database import make_engine
from app.platform.embedded import EmbeddedPostgres
from tests.notifications.helpers import Receiver
from tests.stats.helpers import this_month
from tests.support.factories import NEW_CALL, new_rpps
from tests.support.processes import free_port, pgbouncer, pgbouncer_binary
from tests.support.second_instance import sql
from tests.support.snp_process import SECRET, _admin, _serve, _stop, _wait_ready
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(pgbouncer_binary() is None and not os.environ.get("SNP_REQUIRE_POOLER"),
                                 reason="PgBouncer is installed by `make test`")]

INSTANCES = 3
CALLS = 24


def _limits_through(url: str) -> tuple[str, str]:
    async def read() -> tuple[str, str]:
        engine = make_engine(url, Settings(db_statement_timeout_ms=1234, db_idle_in_transaction_timeout_ms=5678))
        async with engine.connect() as conn:
            timeout = (await conn.execute(text("SHOW statement_timeout"))).scalar_one()
            idle = (await conn.execute(text("SHOW idle_in_transaction_session_timeout"))).scalar_one()
        await engine.dispose()
        return timeout, idle
    return asyncio.run(read())


def test_three_instances_behind_pgbouncer_share_one_database_without_doing_anything_twice() -> None:
    folder = Path(tempfile.mkdtemp(prefix="snp-pooler-"))
    server = EmbeddedPostgres(folder / "db", port=free_port(), listen_tcp=True)
    server.start()
    hook = free_port()
    procs = []
    try:
        with pgbouncer(folder / "pooler", server, pool_size=40) as url, Receiver(hook) as receiver:
            assert _limits_through(url) == ("1234ms", "5678ms")
            env = {"SNP_DATABASE_URL": url, "SNP_DB_POOL_SIZE": "8", "SNP_STATS_COMPACT_SECONDS": "0.2",
                   "SNP_RELAY_INTERVAL_SECONDS": "0.1", "SNP_WEBHOOK_ALLOWED_HOSTS": '["127.0.0.1"]'}
            ports = [free_port() for _ in range(INSTANCES)]
            procs = [_serve(env, port, output=folder / f"app-{port}.log") for port in ports]
            for port, proc in zip(ports, procs, strict=True):
                _wait_ready(port, proc)
            bases = [f"http://127.0.0.1:{port}" for port in ports]
            assert sql(server.url(), "SELECT count(*) FROM alembic_version") == [(1,)]

            admin = _admin()
            with httpx.Client(headers=admin, timeout=30) as c:
                doctor = c.post(bases[0] + "/v1/practitioners", json={
                    "rpps": new_rpps(), "family_name": "Roux", "given_name": "Marc", "territory_codes": ["36"]}).json()
                site = c.post(bases[1] + "/v1/sites", json={
                    "name": "MSP du Blanc", "kind": "msp", "address": "3 rue Haute", "postcode": "36300",
                    "lat": 46.63, "lon": 1.06, "territory_code": "36"}).json()
                me = {"Authorization": "Bearer " + create_token(Settings(jwt_secret=SECRET), role="effector",
                                                                practitioner_id=doctor["id"])}
                hooked = c.put(bases[2] + "/v1/practitioners/me/webhook", headers=me,
                               json={"url": f"http://127.0.0.1:{hook}/hooks/snp", "secret": "s" * 32})
                assert hooked.status_code == 200, hooked.text
                start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=2)
                slots = c.post(bases[0] + "/v1/slots/bulk", json={"slots": [
                    {"practitioner_id": doctor["id"], "site_id": site["id"], "mode": "in_person",
                     "start": (start + dt.timedelta(minutes=20 * i)).isoformat(),
                     "end": (start + dt.timedelta(minutes=20 * i + 20)).isoformat()} for i in range(CALLS)]})
                assert slots.status_code == 201, slots.text
                calls = [c.post(bases[i % INSTANCES] + "/v1/calls", json=NEW_CALL)
                         .json()["id"] for i in range(CALLS)]

            # Every call races for the first slot, through the three instances at once.
            contested = slots.json()["ids"][0]

            def book(i: int, slot: str) -> int:
                return httpx.post(bases[i % INSTANCES] + "/v1/bookings", headers=admin, timeout=30,
                                  json={"slot_id": slot, "call_id": calls[i]}).status_code

            with ThreadPoolExecutor(CALLS) as pool:
                answers = list(pool.map(lambda i: book(i, contested), range(CALLS)))
            assert sorted(answers) == [201] + [409] * (CALLS - 1)
            # The others book a slot each, through the three.
            winner = answers.index(201)
            others = [i for i in range(CALLS) if i != winner]
            with ThreadPoolExecutor(8) as pool:
                rest = list(pool.map(book, others, slots.json()["ids"][1:]))
            assert rest == [201] * (CALLS - 1)

            # Every instance relays: each event leaves once.
            undelivered = "SELECT count(*) FROM outbox_events WHERE delivered_at IS NULL"
            assert wait_for(lambda: sql(server.url(), undelivered), lambda n: n == [(0,)], 30) == [(0,)]
            sent = [headers["X-SNP-Event-Id"] for headers, _ in receiver.received]
            assert len(sent) == len(set(sent)) == sql(server.url(), "SELECT count(*) FROM outbox_events")[0][0]
            assert len(sent) >= CALLS

            # Every instance folds the rollup: each call counted once, the deltas all folded.
            pending = "SELECT count(*) FROM stats_call_deltas"
            assert wait_for(lambda: sql(server.url(), pending), lambda n: n == [(0,)], 30) == [(0,)]
            month_text = this_month()
            analyst = {"Authorization": "Bearer " + create_token(Settings(jwt_secret=SECRET), role="analyst",
                                                                 territories=["36"])}
            report = httpx.get(bases[1] + "/v1/stats/monthly", headers=analyst,
                               params={"territory": "36", "from": month_text, "to": month_text}).json()
            assert report["total"]["calls"] == CALLS, report["total"]
    finally:
        for proc in procs:
            _stop(proc)
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
