"""``/docs`` (Swagger UI) and ``/redoc`` work on a network that reaches nothing but the service: every
script, style and icon they load is the service's own, served from a Python package; and in a Chromium
that may reach nothing but loopback, Swagger UI shows the operations and ReDoc the document."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.console.helpers import ARGS, CHROMIUM
from tests.support.serving import sharing

PAGES = ("/docs", "/redoc", "/docs/oauth2-redirect")
TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def _references(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)


class TestThePagesLoadNothingFromElsewhere:
    @pytest.mark.parametrize("path", PAGES)
    async def test_every_asset_is_same_origin_and_served(self, client: httpx.AsyncClient, path: str) -> None:
        page = await client.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "cdn" not in page.text.lower() and "googleapis" not in page.text
        for url in _references(page.text):
            parts = urlsplit(url)
            assert not parts.scheme and not parts.netloc and url.startswith("/"), url
            asset = await client.get(url)
            assert asset.status_code == 200, url
            assert asset.headers["content-type"].startswith(TYPES[Path(parts.path).suffix]), (url, asset.headers)
            assert len(asset.content) > 1000
        if path != "/docs/oauth2-redirect":
            assert len(_references(page.text)) >= 2  # a script and the icon at least

    async def test_the_pages_allow_only_the_services_scripts(self, client: httpx.AsyncClient) -> None:
        for path in PAGES:
            policy = (await client.get(path)).headers["content-security-policy"]
            scripts = next(d for d in policy.split(";") if d.strip().startswith("script-src")).split()[1:]
            assert scripts[0] == "'self'" and all(s.startswith("'sha256-") for s in scripts[1:]), policy
            assert "frame-ancestors 'none'" in policy

    async def test_only_the_packages_known_files_are_served(self, client: httpx.AsyncClient) -> None:
        for name in ("..%2F__init__.py", "core.py", "nothing.js"):
            answer = await client.get(f"/docs/assets/{name}")
            assert answer.status_code == 404, name
            assert answer.json()["error"] == "NotFound"


@pytest.fixture(scope="module")
def base(database_url: str, shared_base: str) -> Iterator[str]:
    with sharing(shared_base, database_url) as url:
        yield url


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is installed by `make test` (Debian package)")
def test_swagger_ui_and_redoc_render_with_nothing_but_loopback(base: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    outside: list[str] = []

    def only_loopback(route) -> None:
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost") or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context()
            context.route("**/*", only_loopback)
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(base + "/docs")
            expect(page.locator(".opblock").first).to_be_visible(timeout=20_000)
            assert page.locator(".opblock").count() > 50  # every operation of the API
            expect(page.locator(".information-container .title")).to_contain_text("SNP")
            page.goto(base + "/redoc")
            expect(page.locator("[data-section-id]").first).to_be_attached(timeout=20_000)
            expect(page.locator(".api-content h1").first).to_contain_text("SNP")
            assert outside == [], outside
            # The policy refused nothing of the service's own (ReDoc's badge from its vendor, refused, it hides).
            refused = [e for e in errors if "Content Security Policy" in e]
            assert all("cdn.redoc.ly" in e for e in refused), refused
        finally:
            browser.close()
