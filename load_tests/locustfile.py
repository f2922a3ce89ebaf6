"""Locust scenario: a regulator searches, holds and books, against a server on loopback.

    SNP_JWT_SECRET=<the server's> LOCUST_TERRITORY=36 LOCUST_CALLS=calls.txt \
        locust -f load_tests/locustfile.py --host http://127.0.0.1:8000 --headless -u 50 -r 10 -t 60s

``LOCUST_CALLS`` names a file of open call ids, one per line (e.g. from ``SELECT id FROM calls``); each
simulated regulator books for the next one. Without it, users only search.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import random
import uuid
from pathlib import Path

from locust import HttpUser, between, task

from app.auth.tokens import create_token
from app.platform.config import Settings

TERRITORY = os.environ.get("LOCUST_TERRITORY", "36")
_CALLS_FILE = os.environ.get("LOCUST_CALLS")
CALLS = itertools.cycle(Path(_CALLS_FILE).read_text().split()) if _CALLS_FILE else None


class Regulator(HttpUser):
    wait_time = between(0.5, 2)

    def on_start(self) -> None:
        settings = Settings(jwt_secret=os.environ.get("SNP_JWT_SECRET", Settings().jwt_secret))
        token = create_token(settings, role="regulator", territories=[TERRITORY])
        self.client.headers["Authorization"] = f"Bearer {token}"

    def _search(self) -> list[dict]:
        start = dt.datetime.now(dt.UTC) + dt.timedelta(hours=random.randint(0, 72))
        params = {"territory": TERRITORY, "start_from": start.isoformat(), "limit": 10}
        if random.random() < 0.3:
            params.update(near_lat=46.81, near_lon=1.69, radius_km=40)
        with self.client.get("/v1/slots/search", params=params, name="search", catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"search {r.status_code}")
                return []
            return r.json()["items"]

    @task(5)
    def search(self) -> None:
        self._search()

    @task(1)
    def search_hold_book(self) -> None:
        if CALLS is None:
            return
        items = self._search()
        if not items:
            return
        slot, call_id = random.choice(items), next(CALLS)
        ok = (409,)
        with self.client.post(f"/v1/slots/{slot['id']}/hold", json={"call_id": call_id}, name="hold",
                              catch_response=True) as r:
            if r.status_code in ok:
                r.success()
                return
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        with self.client.post("/v1/bookings", json={"slot_id": slot["id"], "call_id": call_id}, headers=headers,
                              name="book", catch_response=True) as r:
            if r.status_code in ok:
                r.success()
