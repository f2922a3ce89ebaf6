"""Rate limits: one budget for all instances, 429 with Retry-After, failed sign-ins per address."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.main import create_app


def instance(settings, engine, **limits):
    """One more instance of the app on the same database (as a second worker or machine would be)."""
    application = create_app(settings.model_copy(update={
        "rate_limits": {"search": 100, "booking": 100, "import": 100, "auth_failure": 100, **limits}}))
    application.state.engine = engine
    application.state.sessionmaker = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
    return application


def client_of(application) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://test")


class TestSharedBudget:
    async def test_two_instances_hold_one_budget_once_they_have_reconciled(self, committed_app, settings, engine,
                                                                           auth):
        first, second = instance(settings, engine, search=10), instance(settings, engine, search=10)
        headers = auth("operator")
        async with client_of(first) as a, client_of(second) as b:
            for _ in range(8):
                assert (await a.get("/v1/slots/search", params={"territory": "36"}, headers=headers)).status_code == 200
            await first.state.limiter.sync(engine)
            await second.state.limiter.sync(engine)
            # The second instance knows the first spent 8 of the 10: two more, then 429.
            statuses = [(await b.get("/v1/slots/search", params={"territory": "36"}, headers=headers))
                        for _ in range(3)]
            assert [r.status_code for r in statuses] == [200, 200, 429]
            refused = statuses[-1]
            assert refused.json()["error"] == "TooManyRequests" and 1 <= int(refused.headers["Retry-After"]) <= 60
            await second.state.limiter.sync(engine)
            await first.state.limiter.sync(engine)
            assert (await a.get("/v1/slots/search", params={"territory": "36"}, headers=headers)).status_code == 429
            # Another token has a budget of its own; routes without a budget are not counted.
            other = auth("operator", sub="osnp-2")
            assert (await a.get("/v1/slots/search", params={"territory": "36"}, headers=other)).status_code == 200
            assert (await a.get("/v1/calls", headers=headers)).status_code == 200


class TestFailedSignIns:
    async def test_an_address_that_fails_too_often_is_refused_before_its_tokens_are_read(self, committed_app,
                                                                                        settings, engine, auth):
        application = instance(settings, engine, auth_failure=5)
        good = auth("operator")
        async with client_of(application) as c:
            assert (await c.get("/v1/calls", headers=good)).status_code == 200  # signs in from this address
            bad = {"Authorization": "Bearer not-a-token"}
            assert [(await c.get("/v1/calls", headers=bad)).status_code for _ in range(6)] == [401] * 5 + [429]
            assert (await c.get("/v1/calls")).status_code == 429
            # The colleague already signed in from this address carries on; probes always answer.
            assert (await c.get("/v1/calls", headers=good)).status_code == 200
            assert (await c.get("/health")).status_code == 200
