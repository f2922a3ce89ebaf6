"""Health identities: tokens of a Pro Santé Connect-shaped provider get their rights from the users registry
(by subject, or by the RPPS of the national id they carry), never from claims the provider does not set."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker

from app.auth.registry import forget_registered
from app.auth.tokens import create_token
from app.main import create_app
from app.platform.config import Settings
from tests.support.command_line import snp
from tests.support.factories import create_practitioner, new_rpps
from tests.support.identity_provider import Card, Provider, running_provider


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with running_provider() as p:
        yield p


def _app(settings: Settings, connection: AsyncConnection, engine: AsyncEngine) -> Any:
    application = create_app(settings)
    application.state.engine = engine
    application.state.sessionmaker = async_sessionmaker(
        bind=connection, expire_on_commit=False, autoflush=False, join_transaction_mode="create_savepoint")
    return application


@pytest.fixture
async def psc(settings: Settings, provider: Provider, connection: AsyncConnection,
              engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The app of a SAS whose users sign in with the provider (production-like: env test)."""
    forget_registered()
    application = _app(settings.model_copy(update=provider.settings()), connection, engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://test") as c:
        yield c
    forget_registered()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class TestTheRegistry:
    async def test_an_administrator_registers_users_and_their_rights_are_checked(self, client, auth) -> None:
        admin = auth("admin")
        doctor = await create_practitioner(client, admin, ["36"])
        effector = await client.post("/v1/users", json={"rpps": doctor["rpps"], "display_name": "Dr Martin",
                                                         "role": "effector", "territories": ["36"]}, headers=admin)
        assert effector.status_code == 201, effector.text
        assert effector.json()["practitioner_id"] == doctor["id"]  # found by its RPPS
        again = await client.post("/v1/users", json={"rpps": doctor["rpps"], "display_name": "x", "role": "operator"},
                                  headers=admin)
        assert (again.status_code, again.json()["field"]) == (409, "rpps")
        unknown = await client.post("/v1/users", json={"subject": "s1", "display_name": "x", "role": "operator",
                                                       "territories": ["36", "nowhere"]}, headers=admin)
        assert (unknown.status_code, unknown.json()["field"]) == (422, "territories.1")
        lost = await client.post("/v1/users", json={"rpps": new_rpps(), "display_name": "x", "role": "effector"},
                                 headers=admin)
        assert (lost.status_code, lost.json()["field"]) == (422, "practitioner_id")
        kindless = await client.post("/v1/users", json={"subject": "s2", "display_name": "x", "role": "referrer"},
                                     headers=admin)
        assert kindless.status_code == 422 and "referrer_kind" in kindless.text
        nameless = await client.post("/v1/users", json={"display_name": "x", "role": "operator"}, headers=admin)
        assert nameless.status_code == 422
        bad_rpps = await client.post("/v1/users", json={"rpps": "12345678901", "display_name": "x",
                                                        "role": "operator"}, headers=admin)
        assert bad_rpps.status_code == 422
        listed = await client.get("/v1/users", params={"role": "effector", "territory": "36"}, headers=admin)
        assert [u["display_name"] for u in listed.json()] == ["Dr Martin"]
        changed = await client.patch(f"/v1/users/{effector.json()['id']}", json={"role": "regulator"}, headers=admin)
        assert changed.status_code == 200 and changed.json()["role"] == "regulator"
        nulled = await client.patch(f"/v1/users/{effector.json()['id']}", json={"role": None}, headers=admin)
        assert (nulled.status_code, nulled.json()["field"]) == (422, "role")
        refused = await client.get("/v1/users", headers=auth("regulator", ["36"]))
        assert refused.status_code == 403
        trail = await client.get("/v1/audit", params={"action": "user.updated"}, headers=admin)
        assert len(trail.json()) == 1


class TestProviderTokens:
    async def test_rights_come_from_the_registry_not_from_the_token(self, psc, client, auth, provider) -> None:
        rpps = new_rpps()
        await client.post("/v1/users", json={"rpps": rpps, "display_name": "Dr Régul", "role": "regulator",
                                             "territories": ["36"]}, headers=auth("admin"))
        # The provider's token says admin of 36, 18 and 974; the registry says regulator of 36.
        token = bearer(provider.token(Card(rpps=rpps)))
        me = await psc.get("/v1/me", headers=token)
        assert me.status_code == 200, me.text
        assert (me.json()["role"], [t["code"] for t in me.json()["territories"]]) == ("regulator", ["36"])
        assert me.json()["display_name"] == "Dr Régul"
        assert (await psc.post("/v1/territories", json={"code": "99", "name": "x", "kind": "departement"},
                               headers=token)).status_code == 403
        assert (await psc.get("/v1/territories/18", headers=token)).status_code == 404
        assert (await psc.get("/v1/territories/36", headers=token)).status_code == 200

    async def test_an_unknown_or_disabled_identity_is_refused(self, psc, client, auth, provider) -> None:
        stranger = await psc.get("/v1/me", headers=bearer(provider.token(Card(rpps=new_rpps()))))
        assert (stranger.status_code, stranger.json()["error"]) == (403, "Unregistered")
        card = Card()
        user = await client.post("/v1/users", json={"subject": card.subject, "display_name": "IOA", "role": "urgences",
                                                    "territories": ["36"]}, headers=auth("admin"))
        forget_registered()
        assert (await psc.get("/v1/me", headers=bearer(provider.token(card)))).status_code == 200
        off = await client.patch(f"/v1/users/{user.json()['id']}", json={"active": False}, headers=auth("admin"))
        assert off.status_code == 200
        refused = await psc.get("/v1/me", headers=bearer(provider.token(card)))
        assert (refused.status_code, refused.json()["error"]) == (403, "Unregistered")

    async def test_a_subject_is_preferred_to_an_rpps(self, psc, client, auth, provider) -> None:
        card = Card(rpps=new_rpps())
        admin = auth("admin")
        await client.post("/v1/users", json={"rpps": card.rpps, "display_name": "by rpps", "role": "analyst",
                                             "territories": ["36"]}, headers=admin)
        await client.post("/v1/users", json={"subject": card.subject, "display_name": "by subject",
                                             "role": "operator", "territories": ["36"]}, headers=admin)
        me = await psc.get("/v1/me", headers=bearer(provider.token(card)))
        assert me.json()["display_name"] == "by subject"

    async def test_forged_expired_and_foreign_tokens_are_refused(self, psc, provider, settings) -> None:
        other = Provider(base=provider.base)  # same issuer name, another key
        assert (await psc.get("/v1/me", headers=bearer(other.token()))).status_code == 401
        assert (await psc.get("/v1/me", headers=bearer(provider.token(ttl=-10)))).status_code == 401
        foreign = provider.token(aud="another-client")
        assert (await psc.get("/v1/me", headers=bearer(foreign))).status_code == 401
        # The service's own development tokens are refused beside a provider outside development.
        dev = create_token(settings, role="admin")
        assert (await psc.get("/v1/me", headers=bearer(dev))).status_code == 401

    async def test_development_tokens_keep_working_in_development(self, settings, provider, connection,
                                                                  engine) -> None:
        application = _app(settings.model_copy(update={**provider.settings(), "env": "development"}), connection,
                           engine)
        dev = create_token(settings, role="operator", territories=["36"])
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://t") as c:
            me = await c.get("/v1/me", headers=bearer(dev))
        assert (me.status_code, me.json()["role"]) == (200, "operator")


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class TestSignIn:
    REDIRECT = "http://test/console/"

    async def _code(self, provider: Provider, challenge: str) -> str:
        provider.redirect_uris.add(self.REDIRECT)
        async with httpx.AsyncClient() as browser:
            answer = await browser.get(provider.base + "/auth", params={
                "client_id": "snp-console", "response_type": "code", "redirect_uri": self.REDIRECT,
                "scope": "openid scope_all", "state": "s", "code_challenge": challenge,
                "code_challenge_method": "S256"})
        assert answer.status_code == 302
        return httpx.URL(answer.headers["location"]).params["code"]

    async def test_the_console_exchanges_a_code_with_its_verifier(self, psc, client, auth, provider) -> None:
        config = await psc.get("/v1/auth/config")
        assert config.status_code == 200
        assert config.json()["provider"]["authorization_endpoint"] == provider.base + "/auth"
        assert config.json()["provider"]["client_id"] == "snp-console"
        assert config.json()["token_paste"] is False
        provider.card = Card(rpps=new_rpps())
        await client.post("/v1/users", json={"rpps": provider.card.rpps, "display_name": "Dr Opé",
                                             "role": "operator", "territories": ["36"]}, headers=auth("admin"))
        verifier, challenge = _pkce()
        code = await self._code(provider, challenge)
        body = {"code": code, "code_verifier": verifier, "redirect_uri": self.REDIRECT}
        signed = await psc.post("/v1/auth/token", json=body)
        assert signed.status_code == 200, signed.text
        assert (signed.json()["role"], signed.json()["display_name"]) == ("operator", "Dr Opé")
        me = await psc.get("/v1/me", headers=bearer(signed.json()["access_token"]))
        assert me.json()["role"] == "operator"
        replayed = await psc.post("/v1/auth/token", json=body)
        assert (replayed.status_code, replayed.json()["field"]) == (401, "code")

    async def test_a_wrong_verifier_or_an_unregistered_card_signs_nobody_in(self, psc, provider) -> None:
        provider.card = Card(rpps=new_rpps())
        verifier, challenge = _pkce()
        code = await self._code(provider, challenge)
        wrong = await psc.post("/v1/auth/token", json={"code": code, "code_verifier": _pkce()[0],
                                                       "redirect_uri": self.REDIRECT})
        assert wrong.status_code == 401 and "invalid_grant" in wrong.json()["detail"]
        verifier, challenge = _pkce()
        code = await self._code(provider, challenge)
        stranger = await psc.post("/v1/auth/token", json={"code": code, "code_verifier": verifier,
                                                          "redirect_uri": self.REDIRECT})
        assert (stranger.status_code, stranger.json()["error"]) == (403, "Unregistered")

    async def test_a_shift_outlives_a_token_through_a_refresh_token_javascript_never_sees(
        self, psc, client, auth, provider
    ) -> None:
        provider.card = Card(rpps=new_rpps())
        user = (await client.post("/v1/users", json={"rpps": provider.card.rpps, "display_name": "Dr Nuit",
                                                    "role": "regulator", "territories": ["36"]},
                                  headers=auth("admin"))).json()
        verifier, challenge = _pkce()
        code = await self._code(provider, challenge)
        signed = await psc.post("/v1/auth/token", json={"code": code, "code_verifier": verifier,
                                                        "redirect_uri": self.REDIRECT})
        assert signed.status_code == 200, signed.text
        assert signed.json()["renewable"] is True
        cookie = signed.headers["set-cookie"]
        kept = psc.cookies["snp_refresh"]
        assert kept in provider.refresh_tokens and kept not in signed.text  # never in what a script reads
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/v1/auth" in cookie

        renewed = await psc.post("/v1/auth/refresh")
        assert renewed.status_code == 200, renewed.text
        token = renewed.json()["access_token"]
        assert token != signed.json()["access_token"] and renewed.json()["display_name"] == "Dr Nuit"
        assert (await psc.get("/v1/me", headers=bearer(token))).json()["role"] == "regulator"
        assert psc.cookies["snp_refresh"] != kept  # the provider rotated it

        replayed = await psc.post("/v1/auth/refresh", cookies={"snp_refresh": kept})
        assert (replayed.status_code, replayed.json()["field"]) == (401, "refresh_token")
        assert 'snp_refresh=""' in replayed.headers["set-cookie"]  # refused once, forgotten

        verifier, challenge = _pkce()
        code = await self._code(provider, challenge)
        await psc.post("/v1/auth/token", json={"code": code, "code_verifier": verifier, "redirect_uri": self.REDIRECT})
        await client.patch(f"/v1/users/{user['id']}", json={"active": False}, headers=auth("admin"))
        disabled = await psc.post("/v1/auth/refresh")
        assert (disabled.status_code, disabled.json()["error"]) == (403, "Unregistered")
        assert "snp_refresh" not in psc.cookies

    async def test_signing_out_forgets_the_refresh_token(self, psc, client, auth, provider) -> None:
        provider.card = Card(rpps=new_rpps())
        await client.post("/v1/users", json={"rpps": provider.card.rpps, "display_name": "Opé de nuit",
                                             "role": "operator", "territories": ["36"]},
                          headers=auth("admin"))
        verifier, challenge = _pkce()
        code = await self._code(provider, challenge)
        await psc.post("/v1/auth/token", json={"code": code, "code_verifier": verifier, "redirect_uri": self.REDIRECT})
        assert "snp_refresh" in psc.cookies
        out = await psc.post("/v1/auth/sign-out")
        assert out.status_code == 204 and "snp_refresh" not in psc.cookies
        nothing = await psc.post("/v1/auth/refresh")
        assert (nothing.status_code, nothing.json()["field"]) == (401, "refresh_token")

    async def test_without_a_provider_the_console_pastes_a_token(self, client) -> None:
        config = await client.get("/v1/auth/config")
        assert config.json() == {"provider": None, "token_paste": True}
        refused = await client.post("/v1/auth/token", json={"code": "c", "code_verifier": "v" * 43,
                                                            "redirect_uri": "http://test/console/"})
        assert refused.status_code == 404


class TestTheCommandLine:
    async def test_snp_users_adds_lists_and_disables(self, committed_client, auth, database_url, monkeypatch) -> None:
        import asyncio

        def run(*args: str):
            return asyncio.to_thread(snp, database_url, monkeypatch, "users", *args)

        rpps = new_rpps()
        added = await run("add", "--name", "Dr Lambert", "--role", "regulator", "--rpps", rpps, "--territory", "36")
        assert added.exit_code == 0, added.output
        twice = await run("add", "--name", "Dr Lambert", "--role", "regulator", "--rpps", rpps)
        assert twice.exit_code == 1 and "already registered" in twice.output
        wrong = await run("add", "--name", "x", "--role", "pilot", "--subject", "s")
        assert wrong.exit_code == 2
        users = (await committed_client.get("/v1/users", headers=auth("admin"))).json()
        assert [(u["display_name"], u["rpps"], u["territories"]) for u in users] == [("Dr Lambert", rpps, ["36"])]
        listed = await run("list")
        assert "Dr Lambert" in listed.output
        off = await run("disable", users[0]["id"])
        assert off.exit_code == 0, off.output
        user = (await committed_client.get(f"/v1/users/{users[0]['id']}", headers=auth("admin"))).json()
        assert user["active"] is False
