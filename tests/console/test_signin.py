"""Signing in to the console through a Pro Santé Connect-shaped provider, in a real Chromium: the
authorization code with PKCE, exchanged by the server; the rights are the users registry's (registered
with ``snp users add``), the code leaves the address bar, and an unregistered card gets a French answer."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.console.helpers import CHROMIUM
from tests.support.command_line import snp
from tests.support.database import PRODUCTION_ENV
from tests.support.factories import new_rpps
from tests.support.identity_provider import Card, Provider, running_provider
from tests.support.serving import served

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("SNP_REQUIRE_BROWSER"),
    reason="Chromium is installed by `make test` (Debian package)")]


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with running_provider() as p:
        yield p


@pytest.fixture(scope="module")
def base(database_url: str, provider: Provider) -> Iterator[str]:
    # Production mode: only the provider's tokens are accepted, and only a registered identity gets in.
    env = {**provider.environment(), "SNP_ENV": "production", "SNP_SELF_REFERRAL_SECRET": "r" * 40, **PRODUCTION_ENV}
    with served(database_url, env) as url:
        provider.redirect_uris.add(url + "/console/")
        yield url


def _register(database_url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> None:
    result = snp(database_url, monkeypatch, "users", "add", *args)
    assert result.exit_code == 0, result.output


def test_a_regulator_signs_in_with_the_provider_and_an_unregistered_card_is_told_why(
    base: str, provider: Provider, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect, sync_playwright

    rpps = new_rpps()
    _register(database_url, monkeypatch, "--name", "Dr Agnès Roux", "--role", "regulator", "--rpps", rpps,
              "--territory", "36")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(base + "/console/")
        sign_in = page.locator("#provider-sign-in")
        expect(sign_in).to_be_visible()
        expect(page.locator("#token")).to_be_hidden()  # no pasted token outside development
        provider.card = Card(rpps=rpps)
        sign_in.click()
        expect(page.locator("#whoami")).to_contain_text("Dr Agnès Roux, Médecin régulateur")
        assert page.url == base + "/console/"  # the code is gone from the address bar
        expect(page.locator("#live")).to_have_text("en direct")
        assert page.evaluate("sessionStorage.getItem('snp.pkce')") is None

        other = browser.new_page()
        other.goto(base + "/console/")
        provider.card = Card(rpps=new_rpps())  # a real professional, unknown to this SAS
        other.locator("#provider-sign-in").click()
        expect(other.locator("#message")).to_contain_text("n'a pas de compte ici")
        assert other.evaluate("sessionStorage.getItem('snp.token')") is None
        browser.close()


def test_a_shift_outlives_its_token_the_console_renews_it_without_losing_the_screen(
    base: str, provider: Provider, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tokens of 8 s: the console renews each halfway through (the refresh token stays in the server's
    httpOnly cookie), reopens the stream with the new one, keeps the open call, and shows no banner."""
    import time

    from playwright.sync_api import expect, sync_playwright

    rpps = new_rpps()
    _register(database_url, monkeypatch, "--name", "Dr Jean Veille", "--role", "regulator", "--rpps", rpps,
              "--territory", "36")
    provider.access_ttl = 8
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            page.goto(base + "/console/")
            provider.card = Card(rpps=rpps)
            page.locator("#provider-sign-in").click()
            expect(page.locator("#live")).to_have_text("en direct")
            first = page.evaluate("state.token")
            assert page.evaluate("document.cookie") == ""  # the refresh token is out of the page's reach
            call = _call(base, provider, first)
            page.locator(f'#queue tr[data-call="{call}"]').get_by_role("button", name="Ouvrir").click()
            expect(page.locator("#call-detail")).to_be_visible()

            time.sleep(10)  # past the first token's end
            assert page.evaluate("state.token") != first
            expect(page.locator("#banner")).to_be_hidden()
            expect(page.locator("#live")).to_have_text("en direct")
            assert page.evaluate("state.call.id") == call  # the call on screen stayed open
            later = _call(base, provider, page.evaluate("state.token"))
            expect(page.locator(f'#queue tr[data-call="{later}"]')).to_be_visible(timeout=3000)
            browser.close()
    finally:
        provider.access_ttl = 600


def _call(base: str, provider: Provider, token: str) -> str:
    import httpx

    response = httpx.post(f"{base}/v1/calls", headers={"Authorization": f"Bearer {token}"},
                          json={"territory_code": "36", "channel": "15", "priority": "P2",
                                "patient": {"phone": "0611223344"}})
    assert response.status_code == 201, response.text
    return response.json()["id"]
