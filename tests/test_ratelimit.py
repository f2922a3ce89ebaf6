"""Rate limits: one budget for all instances, 429 with Retry-After, failed sign-ins per address."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.main import create_app
from tests.support.instances import client_of, instance


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


def client_from(application, peer: str) -> httpx.AsyncClient:
    """A client whose connection comes from ``peer`` (the immediate peer the app sees)."""
    transport = httpx.ASGITransport(app=application, client=(peer, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


class TestOneBudgetPerToken:
    async def test_the_same_token_in_any_spelling_of_its_scheme_draws_on_one_budget(self, committed_app, settings,
                                                                                   engine, auth):
        application = instance(settings, engine, search=6)
        token = auth("operator")["Authorization"].split()[1]
        spellings = ["bearer", "BEARER", "BeArEr"]
        async with client_of(application) as c:
            statuses = [(await c.get("/v1/slots/search", params={"territory": "36"},
                                     headers={"Authorization": f" {scheme}  {token} "})).status_code
                        for scheme in spellings * 3]
        assert statuses == [200] * 6 + [429] * 3

    async def test_a_padded_spelling_of_the_token_is_the_same_token(self, committed_app, settings, engine, auth):
        # The JWT library accepts a signature padded with '=': it must not be a second budget.
        application = instance(settings, engine, search=4)
        token = auth("operator")["Authorization"].split()[1]
        async with client_of(application) as c:
            statuses = [(await c.get("/v1/slots/search", params={"territory": "36"},
                                     headers={"Authorization": f"Bearer {spelt}"})).status_code
                        for spelt in (token, token + "=", token + "==", token.replace(".", "=.", 1)) * 2]
        assert statuses == [200] * 4 + [429] * 4

    async def test_a_header_without_a_bearer_token_is_no_budget_of_its_own(self, committed_app, settings, engine):
        application = instance(settings, engine, search=3)
        async with client_of(application) as c:
            statuses = [(await c.get("/v1/slots/search", params={"territory": "36"},
                                     headers={"Authorization": f"Basic junk{i}"})).status_code for i in range(4)]
        assert statuses == [401] * 3 + [429]


class TestForwardedFor:
    async def test_an_untrusted_peer_cannot_choose_its_address(self, committed_app, settings, engine):
        application = instance(settings, engine, self_referral=3)
        async with client_from(application, "192.0.2.66") as c:
            statuses = [(await c.post("/v1/self-referrals/unknown", json={"phone": "0612345678"},
                                      headers={"X-Forwarded-For": f"198.51.100.{i}"})).status_code for i in range(5)]
        assert [s == 429 for s in statuses] == [False] * 3 + [True] * 2

    async def test_bad_tokens_forged_from_a_colleagues_address_do_not_lock_him_out(self, committed_app, settings,
                                                                                 engine, auth):
        application = instance(settings, engine, auth_failure=5)
        bad = {"Authorization": "Bearer not-a-token", "X-Forwarded-For": "192.0.2.10"}
        async with client_from(application, "192.0.2.66") as attacker, \
                client_from(application, "192.0.2.10") as colleague:
            assert [(await attacker.get("/v1/calls", headers=bad)).status_code for _ in range(6)] == [401] * 5 + [429]
            assert (await colleague.get("/v1/calls", headers=auth("operator"))).status_code == 200

    async def test_behind_a_trusted_proxy_the_client_is_the_rightmost_untrusted_entry(self, committed_app, settings,
                                                                                     engine):
        application = create_app(settings.model_copy(update={
            "trusted_proxies": ["10.0.0.0/8"],
            "rate_limits": {"search": 100, "booking": 100, "import": 100, "auth_failure": 3}}))
        application.state.engine = engine
        application.state.sessionmaker = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        bad = {"Authorization": "Bearer not-a-token"}

        def through(chain: str) -> dict[str, str]:
            return {**bad, "X-Forwarded-For": chain}

        async with client_from(application, "10.0.0.7") as proxy:
            # The client forges entries on the left; the proxies (10.x) appended what they saw.
            sent = [through(f"198.51.100.{i}, 203.0.113.5, 10.0.0.3") for i in range(4)]
            assert [(await proxy.get("/v1/calls", headers=h)).status_code for h in sent] == [401] * 3 + [429]
            # Another client behind the same proxies has an address of its own; so has the proxy itself.
            assert (await proxy.get("/v1/calls", headers=through("203.0.113.6, 10.0.0.3"))).status_code == 401
            assert (await proxy.get("/v1/calls", headers=bad)).status_code == 401
            # The IPv4 spelt in IPv6 is the same client.
            assert (await proxy.get("/v1/calls", headers=through("::ffff:203.0.113.5"))).status_code == 429


class TestTheCertificatesBudget:
    """The national platform signs in with its certificate (mutual TLS at the front): its searches count for it,
    not for the front's address that every client of that front shares."""

    def _behind_the_front(self, settings, engine):
        application = create_app(settings.model_copy(update={
            "trusted_proxies": ["10.0.0.0/8"],
            "rate_limits": {"search": 100, "booking": 100, "import": 100, "auth_failure": 100, "fhir_search": 2}}))
        application.state.engine = engine
        application.state.sessionmaker = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        return application

    async def test_each_certificate_the_front_verified_has_its_own_budget(self, committed_app, settings, engine):
        application = self._behind_the_front(settings, engine)
        query = {"status": "free", "schedule.actor:Practitioner.identifier": "urn:oid:1.2.250.1.71.4.2.1|810002909371"}
        async with client_from(application, "10.0.0.5") as front:
            one = [(await front.get("/fhir/Slot", params=query, headers={"X-Client-Cert": "certificate-one"}))
                   .status_code for _ in range(3)]
            other = (await front.get("/fhir/Slot", params=query, headers={"X-Client-Cert": "certificate-two"}))
        assert [s == 429 for s in one] == [False, False, True]  # refused as unknown certificates, but counted
        assert other.status_code != 429, (one, other.text)

    async def test_a_certificate_header_from_an_untrusted_peer_is_no_budget_of_its_own(self, committed_app, settings,
                                                                                     engine):
        application = self._behind_the_front(settings, engine)
        query = {"status": "free", "schedule.actor:Practitioner.identifier": "urn:oid:1.2.250.1.71.4.2.1|810002909371"}
        async with client_from(application, "192.0.2.66") as stranger:
            statuses = [(await stranger.get("/fhir/Slot", params=query, headers={"X-Client-Cert": f"forged-{i}"}))
                        .status_code for i in range(3)]
        assert [s == 429 for s in statuses] == [False, False, True]
