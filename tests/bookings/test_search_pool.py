"""A served app searches on a pool of its own (``snp-search``): one statement outside any transaction, planned
for its values on that connection, and the same page as the in-process path (which reads in a transaction)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.console.helpers import _token
from tests.support.factories import new_rpps
from tests.support.serving import sharing


@pytest.fixture(scope="module")
def base(database_url: str, shared_base: str) -> Iterator[str]:
    with sharing(shared_base, database_url) as url:
        yield url


def _searchers(database_url: str) -> list[tuple[str, str]]:
    """The search pool's connections: their state and the last statement each ran."""
    async def read() -> list[tuple[str, str]]:
        engine = create_async_engine(database_url)
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT state, query FROM pg_stat_activity WHERE application_name = 'snp-search'"))).all()
        await engine.dispose()
        return [(r[0], r[1]) for r in rows]
    return asyncio.run(read())


def test_a_served_app_searches_on_its_own_pool_outside_any_transaction(base: str, database_url: str) -> None:
    admin = {"Authorization": f"Bearer {_token('admin', ())}"}
    with httpx.Client(base_url=base, headers=admin) as c:
        doctor = c.post("/v1/practitioners", json={"rpps": new_rpps(), "family_name": "Roche", "given_name": "Paul",
                                                   "territory_codes": ["36"]}).json()
        site = c.post("/v1/sites", json={"name": "Cabinet Roche", "kind": "cabinet", "address": "3 rue Basse",
                                         "postcode": "36000", "lat": 46.81, "lon": 1.69, "territory_code": "36"}).json()
        start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=40)
        ids = []
        for n in range(3):
            at = start + dt.timedelta(minutes=30 * n)
            made = c.post("/v1/slots", json={
                "practitioner_id": doctor["id"], "site_id": site["id"], "mode": "in_person", "start": at.isoformat(),
                "end": (at + dt.timedelta(minutes=20)).isoformat()})
            assert made.status_code == 201, made.text
            ids.append(made.json()["id"])
    regulator = {"Authorization": f"Bearer {_token('regulator')}"}
    window = {"territory": "36", "start_from": start.isoformat(),
              "start_to": (start + dt.timedelta(hours=2)).isoformat(), "limit": 2}
    first = httpx.get(f"{base}/v1/slots/search", params=window, headers=regulator)
    assert first.status_code == 200, first.text
    assert [s["id"] for s in first.json()["items"]] == ids[:2]
    following = httpx.get(f"{base}/v1/slots/search", params={**window, "cursor": first.json()["next_cursor"]},
                          headers=regulator)
    assert [s["id"] for s in following.json()["items"]] == ids[2:]
    near = httpx.get(f"{base}/v1/slots/search", headers=regulator, params={
        **window, "near_lat": 46.8, "near_lon": 1.7, "radius_km": 5, "sort": "distance"})
    assert [s["id"] for s in near.json()["items"]] == ids[:2] and near.json()["items"][0]["distance_km"] < 5
    searchers = _searchers(database_url)
    # Its connections wait idle — never "idle in transaction" — their last statement the search itself (no
    # BEGIN, SET LOCAL or COMMIT around it: the plan mode is each connection's own).
    assert searchers, "no connection of the search's pool"
    assert all(state == "idle" and "FROM slots s" in query for state, query in searchers), searchers
