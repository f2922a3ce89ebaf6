"""The console driven in a real headless Chromium against a served app: a regulator takes a call,
gives advice, finds a slot and books it; the booking is really in the database afterwards."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.auth.tokens import create_token
from app.platform.config import Settings
from tests.support.database import TEST_SECRET
from tests.support.factories import new_rpps
from tests.support.serving import sharing

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(os.environ.get("SNP_SCREENSHOTS", "/tmp"))


def _token(role: str, **kw) -> str:
    return create_token(Settings(jwt_secret=TEST_SECRET), role=role, territories=["36"], **kw)


@pytest.fixture(scope="module")
def base(database_url: str, shared_base: str) -> Iterator[str]:
    with sharing(shared_base, database_url) as url:
        yield url


def _seed_slot(base: str) -> dict:
    admin = {"Authorization": f"Bearer {_token('admin')}"}
    with httpx.Client(base_url=base, headers=admin) as c:
        doctor = c.post("/v1/practitioners", json={"rpps": new_rpps(), "family_name": "Lefèvre",
                        "given_name": "Anne", "territory_codes": ["36"]}).json()
        site = c.post("/v1/sites", json={"name": "MSP de Châteauroux", "kind": "msp", "address": "2 rue Victor Hugo",
                      "postcode": "36000", "lat": 46.81, "lon": 1.69, "territory_code": "36"}).json()
        start = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)).replace(second=0, microsecond=0)
        slot = c.post("/v1/slots", json={"practitioner_id": doctor["id"], "site_id": site["id"],
                      "start": start.isoformat(), "end": (start + dt.timedelta(minutes=20)).isoformat(),
                      "mode": "in_person"})
        assert slot.status_code == 201, slot.text
        return slot.json()


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("SNP_REQUIRE_BROWSER"),
                    reason="Chromium is installed by `make test` (Debian package)")
def test_a_regulator_takes_a_call_and_books_a_slot_from_the_console(base: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    slot = _seed_slot(base)
    token = _token("regulator", sub="regulateur-1")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        page = browser.new_page()
        page.goto(base + "/console/")
        page.fill("#token", token)
        page.fill("#territory", "36")
        page.click("#session button[type=submit]")
        expect(page.locator("#whoami")).to_contain_text("Médecin régulateur")

        form = page.locator("#new-call")
        form.locator("[name=family_name]").fill("Durand")
        form.locator("[name=given_name]").fill("Louise")
        form.locator("[name=birth_year]").fill("1950")
        form.locator("[name=phone]").fill("0601020304")
        form.locator("[name=reason]").fill("Fièvre depuis deux jours")
        form.locator("[name=intent_without_sas]").select_option("urgences")
        form.locator("button[type=submit]").click()
        expect(page.locator("#call-detail")).to_be_visible()
        expect(page.locator("#call-info")).to_contain_text("Durand Louise")

        page.click("#do-callback")
        expect(page.locator("#message")).to_have_text("Rappel enregistré")
        page.click('[data-decision="advice"]')
        expect(page.locator("#call-decisions")).to_contain_text("Conseil médical")
        page.click("#do-prescription")  # asked in place, not in a dialog
        prescription = page.locator("#prescription")
        expect(prescription.locator("[name=pharmacy]")).to_be_focused()
        prescription.locator("[name=pharmacy]").fill("Pharmacie du Centre")
        prescription.locator("[name=prescribed]").fill("Paracétamol 1 g si fièvre")
        prescription.get_by_role("button", name="Enregistrer la prescription").click()
        expect(page.locator("#call-decisions")).to_contain_text("Pharmacie du Centre : Paracétamol 1 g si fièvre")
        expect(prescription).to_be_hidden()

        page.click('nav button[data-tab="slots"]')
        page.click("#search button[type=submit]")
        row = page.locator("#slots tbody tr").first
        expect(row).to_contain_text("Dr Lefèvre")
        control = row.locator("button")
        control.click()  # holds, with a countdown
        expect(page.locator("#message")).to_contain_text("retenu")
        expect(control).to_contain_text("Réserver (4:")
        control.dblclick()  # books once, however many clicks
        expect(page.locator("#message")).to_have_text("Créneau réservé, le médecin effecteur est prévenu")
        expect(page.locator("#call-bookings")).to_contain_text(
            "Dr Lefèvre Anne — MSP de Châteauroux, 2 rue Victor Hugo")
        expect(page.locator("#call-decisions")).to_contain_text("Orientation vers un créneau")
        page.screenshot(path=str(SCREENSHOTS / "snp-console.png"), full_page=True)
        call_id = page.evaluate("state.call.id")
        browser.close()

    headers = {"Authorization": f"Bearer {token}"}
    call = httpx.get(f"{base}/v1/calls/{call_id}", headers=headers).json()
    assert [b["slot_id"] for b in call["bookings"]] == [slot["id"]]
    assert sorted(d["kind"] for d in call["decisions"]) == ["advice", "prescription", "slot"]
    assert call["first_callback_at"] is not None


LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]


def _sign_in(page, base: str, token: str) -> None:
    page.goto(base + "/console/")
    page.fill("#token", token)
    page.fill("#territory", "36")
    page.click("#session button[type=submit]")


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("SNP_REQUIRE_BROWSER"),
                    reason="Chromium is installed by `make test` (Debian package)")
def test_two_operators_see_each_others_calls_live(base: str) -> None:
    """B sees A's new call within 2 s without any click; B takes it and A sees who has it."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        a, b = browser.new_context().new_page(), browser.new_context().new_page()
        _sign_in(a, base, _token("operator", sub="osnp-anna"))
        _sign_in(b, base, _token("operator", sub="osnp-bruno"))
        for page in (a, b):
            expect(page.locator("#live")).to_have_text("en direct")
        form = a.locator("#new-call")
        form.locator("[name=family_name]").fill("Perrin")
        form.locator("[name=phone]").fill("0602030405")
        form.locator("[name=reason]").fill("Otalgie")
        form.locator("[name=priority]").select_option("P1")
        form.locator("button[type=submit]").click()
        expect(a.locator("#call-detail")).to_be_visible()
        call_id = a.evaluate("state.call.id")
        row_b = b.locator(f'#queue tr[data-call="{call_id}"]')
        expect(row_b).to_be_visible(timeout=2000)  # no click in B
        expect(row_b).to_contain_text("En attente")
        row_b.get_by_role("button", name="Prendre l'appel").click()
        expect(a.locator(f'#queue tr[data-call="{call_id}"] .taker')).to_have_text("osnp-bruno", timeout=2000)
        expect(a.locator(f'#queue tr[data-call="{call_id}"]')).to_contain_text("En cours")
        a.screenshot(path=str(SCREENSHOTS / "snp-console-live-a.png"), full_page=True)
        b.screenshot(path=str(SCREENSHOTS / "snp-console-live-b.png"), full_page=True)
        browser.close()


def test_the_console_is_served_with_a_strict_content_security_policy(base: str) -> None:
    for path in ("/console/", "/console/console.js", "/console/console.css", "/console/favicon.svg"):
        response = httpx.get(base + path)
        assert response.status_code == 200, path
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    page = httpx.get(base + "/console/").text
    assert "<script>" not in page and "style=" not in page and "onclick=" not in page
