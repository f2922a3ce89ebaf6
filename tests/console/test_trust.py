"""A queue a regulator can trust, in a real Chromium: never silently stale. A network drop shows the
offline state and, once the network is back, the call created meanwhile within seconds; a call
created before the stream connects is shown; a token that expires ends the stream, leaves a banner no
message covers, and nothing more arrives."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.console.helpers import ARGS, CHROMIUM, _accessible, _token
from tests.support.cable import cable
from tests.support.serving import sharing

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is installed by `make test` (Debian package)"),
]

OFFLINE = "Hors ligne — la file n'est plus à jour"


@pytest.fixture(scope="module")
def base(database_url: str, shared_base: str) -> Iterator[str]:
    with sharing(shared_base, database_url) as url:
        yield url


def _sign_in(page, base: str, token: str) -> None:
    page.goto(base + "/console/")
    page.fill("#token", token)
    page.fill("#territory", "36")
    page.click("#session button[type=submit]")


def _console(pw, base: str, token: str):
    """A browser and a page signed in with ``token``, its live queue connected."""
    from playwright.sync_api import expect

    browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    page = browser.new_page()
    _sign_in(page, base, token)
    expect(page.locator("#live")).to_have_text("en direct")
    return browser, page


def _new_call(base: str, priority: str = "P1") -> str:
    response = httpx.post(f"{base}/v1/calls", headers={"Authorization": f"Bearer {_token('operator')}"},
                          json={"territory_code": "36", "channel": "15", "priority": priority,
                                "patient": {"phone": "0611223344"}, "reason": "douleur thoracique atypique"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _streams(page) -> list[str]:
    opened: list[str] = []
    page.on("request", lambda request: opened.append(request.url) if "/v1/stream" in request.url else None)
    return opened


def test_a_call_created_during_a_network_drop_is_on_screen_within_5_s_of_reconnection(base: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with cable(base) as line, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        opened = _streams(page)
        _sign_in(page, line.url, _token("operator", sub="osnp-drop"))
        live = page.locator("#live")
        expect(live).to_have_text("en direct")
        assert len(opened) == 1

        line.cut()  # the network drops for 5 s: the open stream is cut with it
        dropped = time.monotonic()
        expect(live).to_have_text(OFFLINE, timeout=3000)
        call_id = _new_call(base)  # meanwhile, the 15 transfers a P1
        time.sleep(max(0.0, 5 - (time.monotonic() - dropped)))
        line.mend()
        back = time.monotonic()

        row = page.locator(f'#queue tr[data-call="{call_id}"]')
        expect(row).to_be_visible(timeout=5000)
        shown_after = time.monotonic() - back
        expect(row.locator("td.p1")).to_have_text("Rappel < 20 min")  # the territory's delay, not "P1"
        expect(live).to_have_text("en direct")
        assert len(opened) >= 2, "a new stream followed the drop"
        assert shown_after < 5, shown_after
        print(f"drop: the P1 shown {shown_after:.1f} s after the network came back, {len(opened)} stream requests")
        browser.close()


def test_a_call_created_before_the_stream_connects_is_shown(base: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    created: list[str] = []

    def late_stream(route) -> None:
        # The queue is read, then a call arrives before the stream is open: nothing will ever tell it.
        if not created:
            created.append(_new_call(base, "P2"))
        route.continue_()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.route("**/v1/stream", late_stream)
        _sign_in(page, base, _token("operator", sub="osnp-late"))
        expect(page.locator("#live")).to_have_text("en direct")
        expect(page.locator(f'#queue tr[data-call="{created[0]}"]')).to_be_visible(timeout=3000)
        browser.close()


def test_an_expired_token_leaves_a_banner_that_no_message_covers_and_nothing_more_arrives(base: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    token = _token("regulator", sub="dr-short", ttl_seconds=6)
    # The raw stream, with the same token: it ends with `expired` and says nothing after.
    names: list[str] = []
    with httpx.stream("GET", f"{base}/v1/stream", headers={"Authorization": f"Bearer {token}"}, timeout=20) as raw:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page()
            opened = _streams(page)
            _sign_in(page, base, token)
            expect(page.locator("#live")).to_have_text("en direct")
            banner = page.locator("#banner")
            expect(banner).to_be_visible(timeout=5000)  # the warning: less than 5 minutes are left
            expect(banner).to_contain_text("Votre session expire à")
            expect(banner).to_contain_text("Votre session a expiré", timeout=6000 + 5000)
            expect(page.locator("#live")).to_have_text(OFFLINE)
            streams = len(opened)
            after = _new_call(base)
            page.click("#refresh-queue")  # an action's message does not cover the banner
            expect(page.locator("#message")).to_contain_text("reconnectez-vous")
            expect(banner).to_contain_text("Votre session a expiré")
            page.wait_for_timeout(2500)
            assert len(opened) == streams, "no new stream after `expired`"
            assert page.locator(f'#queue tr[data-call="{after}"]').count() == 0
            expect(page.locator("#banner-action")).to_have_text("Se reconnecter")
            page.click("#banner-action")
            expect(page.locator("#token")).to_be_focused()
            # Signing in again in place: the banner goes, the stream comes back, the new call shows.
            page.fill("#token", _token("regulator", sub="dr-short"))
            page.click("#session button[type=submit]")
            expect(banner).to_be_hidden()
            expect(page.locator("#live")).to_have_text("en direct")
            expect(page.locator(f'#queue tr[data-call="{after}"]')).to_be_visible()
            browser.close()
        for line in raw.iter_lines():
            if line.startswith("event:"):
                names.append(line.split(":", 1)[1].strip())
    assert names[0] == "ready" and names[-1] == "expired", names
    assert json.dumps(names).count("expired") == 1


def test_taking_over_a_call_asks_first_names_the_holder_and_tells_him_at_once(base: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    admin = {"Authorization": f"Bearer {_token('admin')}"}
    for subject, name in (("dr-anne", "Dr Anne Aubry"), ("dr-bruno", "Dr Bruno Berger")):
        created = httpx.post(f"{base}/v1/users", headers=admin, json={
            "subject": subject, "display_name": name, "role": "regulator", "territories": ["36"]})
        assert created.status_code in (201, 409), created.text
    call_id = _new_call(base, "P2")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        anne, bruno = browser.new_context().new_page(), browser.new_context().new_page()
        _sign_in(anne, base, _token("regulator", sub="dr-anne"))
        _sign_in(bruno, base, _token("regulator", sub="dr-bruno"))
        for page in (anne, bruno):
            expect(page.locator("#live")).to_have_text("en direct")
        row_a = anne.locator(f'#queue tr[data-call="{call_id}"]')
        row_a.get_by_role("button", name="Prendre l'appel").click()
        row_a.get_by_role("button", name="Ouvrir").click()
        expect(anne.locator("#call-info")).to_contain_text("Dr Anne Aubry")

        row_b = bruno.locator(f'#queue tr[data-call="{call_id}"]')
        expect(row_b.locator(".taker")).to_have_text("Dr Anne Aubry")
        row_b.get_by_role("button", name="Reprendre l'appel").click()
        expect(row_b).to_contain_text("Pris par Dr Anne Aubry. Le reprendre ?")
        confirm = row_b.get_by_role("button", name="Confirmer la reprise")
        expect(confirm).to_be_focused()
        assert httpx.get(f"{base}/v1/calls/{call_id}", headers=admin).json()["assigned_to"] == "dr-anne"
        confirm.click()
        expect(anne.locator("#call-holder")).to_have_text("Repris par Dr Bruno Berger", timeout=2000)
        expect(row_a.locator(".taker")).to_have_text("Dr Bruno Berger")
        browser.close()


def test_the_record_of_the_regulation_observations_and_a_correction_both_shown(base: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser, page = _console(pw, base, _token("regulator", sub="dr-record"))
        form = page.locator("#new-call")
        form.locator("[name=phone]").fill("0611223344")
        form.locator("[name=samu_case_id]").fill("DRFR15-36-0042")
        form.locator("button[type=submit]").click()
        expect(page.locator("#call-detail")).to_be_visible()
        call_id = page.evaluate("state.call.id")
        expect(page.locator("#call-info")).to_contain_text("DRFR15-36-0042")
        expect(page.locator(f'#queue tr[data-call="{call_id}"]')).to_contain_text("SAMU DRFR15-36-0042")

        observe = page.locator("#observe")
        observe.locator("textarea").fill("Douleur abdominale depuis 2 h")
        observe.get_by_role("button", name="Ajouter l'observation").click()
        timeline = page.locator("#call-timeline")
        expect(timeline.locator("li").first).to_contain_text("Appel reçu")
        first = timeline.locator("li[data-kind=observation]").first
        expect(first).to_contain_text("Douleur abdominale depuis 2 h")
        expect(first).to_contain_text("dr-record (Médecin régulateur)")
        first.get_by_role("button", name="Corriger").click()
        expect(page.locator("#observe-corrects")).to_contain_text("Correction de l'observation de")
        expect(observe.locator("textarea")).to_be_focused()
        observe.locator("textarea").fill("Depuis 2 jours, et non 2 h")
        observe.get_by_role("button", name="Ajouter l'observation").click()
        items = timeline.locator("li[data-kind=observation]")
        expect(items).to_have_count(2)
        expect(items.nth(0)).to_have_class("struck")
        expect(items.nth(0)).to_contain_text("Douleur abdominale depuis 2 h")  # the corrected one stays
        expect(items.nth(1)).to_contain_text("corrige l'observation de")
        browser.close()


def test_a_postcode_of_elsewhere_is_asked_about_and_one_that_does_not_exist_is_said_so(base: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser, page = _console(pw, base, _token("operator", sub="osnp-postcode"))
        form = page.locator("#new-call")
        form.locator("[name=phone]").fill("0611223344")
        form.locator("[name=reason]").fill("Fièvre, de passage chez sa fille")
        form.locator("[name=postcode]").fill("36999")
        form.locator("button[type=submit]").click()
        expect(page.locator("#message")).to_have_text("Le code postal 36999 n'existe pas")
        # Said beside the field too, and kept there until the field changes, whatever is said meanwhile.
        beside = form.locator(".field-error")
        expect(beside).to_have_text("Le code postal 36999 n'existe pas")
        expect(form.locator("[name=postcode]")).to_have_attribute("aria-invalid", "true")
        expect(form.locator("[name=postcode]")).to_be_focused()
        expect(form.locator("[name=reason]")).to_have_value("Fièvre, de passage chez sa fille")  # nothing lost

        form.locator("[name=postcode]").fill("75001")
        form.locator("button[type=submit]").click()
        ask = page.locator("#out-of-territory")
        expect(ask).to_contain_text("Le code postal 75001 n'est pas du territoire : patient hors territoire ?")
        expect(page.locator("#call-detail")).to_be_hidden()
        ask.get_by_role("button", name="Oui, enregistrer").click()
        expect(page.locator("#call-detail")).to_be_visible()
        expect(page.locator("#call-info")).to_contain_text("75001")
        expect(ask).to_be_hidden()
        browser.close()


def test_the_queue_shows_the_patient_at_a_glance_and_a_call_is_corrected_in_place(base: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    response = httpx.post(f"{base}/v1/calls", headers={"Authorization": f"Bearer {_token('operator')}"},
                          json={"territory_code": "36", "channel": "15", "priority": "P3",
                                "patient": {"phone": "0611223344", "sex": "M", "birth_year": 1950,
                                            "family_name": "Glance"},
                                "reason": "Lombalgie aiguë après un effort, sans fièvre ni trouble urinaire, "
                                          "marche difficile"})
    assert response.status_code == 201, response.text
    call_id = response.json()["id"]
    received = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=40)).isoformat()
    late = httpx.post(f"{base}/v1/calls", headers={"Authorization": f"Bearer {_token('operator')}"},
                      json={"territory_code": "36", "channel": "15", "priority": "P1", "received_at": received})
    assert late.status_code == 201, late.text
    with sync_playwright() as pw:
        browser, page = _console(pw, base, _token("regulator", sub="dr-glance"))
        # A late P1 line stays readable: its priority's colours win over the late row's.
        expect(page.locator(f'#queue tr.late[data-call="{late.json()["id"]}"] td.p1')).to_be_visible()
        _accessible(page, "queue-with-a-late-p1")
        row = page.locator(f'#queue tr[data-call="{call_id}"]')
        expect(row.locator("td.who")).to_have_text(f"H, {time.gmtime().tm_year - 1950} ans")
        expect(row.locator("td.what")).to_contain_text("Lombalgie aiguë après un effort")
        expect(row).not_to_contain_text("Glance")  # no name in the queue
        row.get_by_role("button", name="Ouvrir").click()

        page.get_by_role("button", name="Corriger l'appel").click()
        form = page.locator("#correct")
        expect(form.locator("[name=family_name]")).to_be_focused()
        expect(form.locator("[name=family_name]")).to_have_value("Glance")
        form.locator("[name=reason]").fill("Lombalgie aiguë, fièvre à 38,5 depuis ce matin")
        form.locator("[name=postcode]").fill("36999")
        form.get_by_role("button", name="Enregistrer la correction").click()
        expect(form.locator(".field-error")).to_have_text("Le code postal 36999 n'existe pas")
        expect(form.locator("[name=reason]")).to_have_value("Lombalgie aiguë, fièvre à 38,5 depuis ce matin")
        form.locator("[name=postcode]").fill("36000")
        expect(form.locator(".field-error")).to_have_count(0)  # gone once the field changes
        form.locator("[name=priority]").select_option("P1")
        form.get_by_role("button", name="Enregistrer la correction").click()
        expect(page.locator("#message")).to_have_text("Appel corrigé")
        expect(form).to_be_hidden()
        expect(page.locator("#call-info")).to_contain_text("fièvre à 38,5")
        corrected = page.locator("#call-timeline li[data-kind=corrected]")
        expect(corrected).to_contain_text("Appel corrigé : code postal, priorité, motif")
        expect(corrected).to_contain_text("dr-glance")
        expect(row.locator("td.p1")).to_be_visible()
        browser.close()


def test_the_queue_is_worked_from_the_keyboard_with_the_shortcuts_shown(base: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser, page = _console(pw, base, _token("regulator", sub="dr-keys"))
        expect(page.locator("#shortcuts")).to_contain_text("S appel suivant")
        call_id = _new_call(base, priority="P1")
        expect(page.locator(f'#queue tr[data-call="{call_id}"]')).to_be_visible()
        page.evaluate("state.calls.sort((a, b) => (b.id === arguments[0]) - (a.id === arguments[0]))".replace(
            "arguments[0]", json.dumps(call_id)))  # the call of this test first, whatever others wait
        page.locator("body").click()
        page.keyboard.press("s")
        expect(page.locator("#call-detail")).to_be_visible()
        expect(page.locator("#call-detail h2")).to_be_focused()
        assert page.evaluate("state.call.id") == call_id
        page.keyboard.press("p")
        expect(page.locator("#message")).to_have_text("Appel pris")
        expect(page.locator(f'#queue tr[data-call="{call_id}"] td.taker')).to_have_text("dr-keys")
        page.keyboard.press("/")
        find = page.locator("#find [name=q]")
        expect(find).to_be_focused()
        page.keyboard.type("sp")  # typed in a field: text, never a shortcut
        expect(find).to_have_value("sp")
        expect(page.locator("#tab-calls")).to_be_visible()
        find.blur()
        page.keyboard.press("c")
        expect(page.locator("#tab-slots")).to_be_visible()
        browser.close()
