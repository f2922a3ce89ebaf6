"""The slot list follows what other consoles do, in a real Chromium: two operators show the same slots;
when one holds a slot the other's list marks it "Retenu par un autre poste", when he books it the other's
list drops it, within seconds and without a click, and the other's own hold is left as it was. Each slot
shows its distance, its public, its doctor's languages and who may book it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.console.helpers import ARGS, CHROMIUM, _token
from tests.support.factories import new_rpps
from tests.support.serving import sharing

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is installed by `make test` (Debian package)"),
]

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(scope="module")
def base(database_url: str, shared_base: str) -> Iterator[str]:
    with sharing(shared_base, database_url) as url:
        yield url


def _slots(base: str, days_ahead: int = 83) -> tuple[list[str], dt.date]:
    """Three slots on a day of their own (no other test's slot that day), near Châteauroux; the first
    open to the regulation and the emergency departments only, for children."""
    admin = {"Authorization": f"Bearer {_token('admin', ())}"}
    with httpx.Client(base_url=base, headers=admin) as c:
        doctor = c.post("/v1/practitioners", json={"rpps": new_rpps(), "family_name": "Vidal", "given_name": "Inès",
                        "territory_codes": ["36"], "languages": ["fr", "en"]})
        assert doctor.status_code == 201, doctor.text
        site = c.post("/v1/sites", json={"name": "MSP Saint-Denis", "kind": "msp", "address": "5 rue Grande",
                      "postcode": "36000", "lat": 46.83, "lon": 1.69, "territory_code": "36"}).json()
        day = dt.datetime.now(PARIS).date() + dt.timedelta(days=days_ahead)
        ids = []
        for n in range(3):
            start = dt.datetime.combine(day, dt.time(10 + n), PARIS)
            body = {"practitioner_id": doctor.json()["id"], "site_id": site["id"], "mode": "in_person",
                    "start": start.isoformat(), "end": (start + dt.timedelta(minutes=20)).isoformat()}
            if n == 0:
                body |= {"audience": "children", "bookable_by": ["regulation", "urgences"]}
            made = c.post("/v1/slots", json=body)
            assert made.status_code == 201, made.text
            ids.append(made.json()["id"])
    return ids, day


def _call(base: str) -> str:
    response = httpx.post(f"{base}/v1/calls", headers={"Authorization": f"Bearer {_token('operator')}"},
                          json={"territory_code": "36", "channel": "15", "priority": "P2",
                                "patient": {"phone": "0611223344", "postcode": "36000", "birth_year": 2018}})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _open_with_slots(page, base: str, sub: str, call_id: str, day: dt.date) -> None:
    from playwright.sync_api import expect

    page.goto(base + "/console/")
    page.fill("#token", _token("operator", sub=sub))
    page.fill("#territory", "36")
    page.click("#session button[type=submit]")
    expect(page.locator("#live")).to_have_text("en direct")
    row = page.locator(f'#queue tr[data-call="{call_id}"]')
    row.get_by_role("button", name="Prendre l'appel").click()
    row.get_by_role("button", name="Ouvrir").click()
    expect(page.locator("#call-detail")).to_be_visible()
    page.click("#to-slots")
    page.fill("#search [name=start_from]", f"{day.isoformat()}T00:00")
    page.fill("#search [name=start_to]", f"{(day + dt.timedelta(days=1)).isoformat()}T00:00")
    page.click("#search button[type=submit]")


def test_a_slot_held_then_booked_by_another_console_is_marked_then_gone_without_a_click(base: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    (first, second, third), day = _slots(base)
    call_anne, call_bruno = _call(base), _call(base)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        anne, bruno = browser.new_context().new_page(), browser.new_context().new_page()
        _open_with_slots(anne, base, "osnp-anne", call_anne, day)
        _open_with_slots(bruno, base, "osnp-bruno", call_bruno, day)
        for page in (anne, bruno):
            expect(page.locator("#slots tbody tr")).to_have_count(3)
        row = bruno.locator(f'#slots tr[data-slot="{first}"]')
        # what the list tells of each slot: distance from the patient's postcode, public, languages, bookers
        expect(row).to_contain_text("Enfants")
        expect(row).to_contain_text("français, anglais")
        expect(row).to_contain_text("régulation, urgences")
        expect(row).to_contain_text(" km")
        expect(bruno.locator(f'#slots tr[data-slot="{second}"]')).to_contain_text("Tous")

        # Bruno holds the third slot for his patient: his selection must survive what Anne does.
        own = bruno.locator(f'#slots tr[data-slot="{third}"] button')
        own.click()
        expect(own).to_contain_text("Réserver (")
        # and a search made again while it is held (his own, or the refresh after a booking) shows it held still
        bruno.click("#search button[type=submit]")
        expect(bruno.locator("#message")).to_have_text("2 créneau(x) libre(s), 1 retenu(s) pour cet appel")
        expect(bruno.locator("#slots tbody tr").first).to_have_attribute("data-slot", third)
        expect(own).to_contain_text("Réserver (")

        # Anne holds the first: Bruno's list marks it, by itself, within seconds.
        held = anne.locator(f'#slots tr[data-slot="{first}"] button')
        held.click()
        expect(held).to_contain_text("Réserver (")
        expect(row.locator("button")).to_have_text("Retenu par un autre poste", timeout=4000)
        expect(row.locator("button")).to_be_disabled()

        # She books it: it leaves Bruno's list; his own hold and the rest stay.
        held.click()
        expect(anne.locator("#message")).to_have_text("Créneau réservé, le médecin effecteur est prévenu")
        expect(row).to_have_count(0, timeout=4000)
        expect(bruno.locator("#slots tbody tr")).to_have_count(2)
        expect(own).to_contain_text("Réserver (")
        own.click()
        expect(bruno.locator("#message")).to_have_text("Créneau réservé, le médecin effecteur est prévenu")
        browser.close()


def test_a_hold_answered_after_a_newer_list_was_drawn_marks_the_new_row_and_keeps_the_hand_on_it(base: str) -> None:
    """Under load a search sent just before a hold can come back first: the list is drawn again with the slot
    still free, then the hold is answered. The row shown is the one marked, with the focus; a search drawn while
    the slot is held shows it first, held still."""
    import time

    from playwright.sync_api import expect, sync_playwright

    (first, second, third), day = _slots(base, days_ahead=84)
    call = _call(base)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_context().new_page()
        _open_with_slots(page, base, "osnp-chloe", call, day)
        expect(page.locator("#slots tbody tr")).to_have_count(3)

        def late(route) -> None:  # the hold reaches the server a second after the search sent beside it
            time.sleep(1.0)
            route.continue_()

        page.route("**/hold", late)
        page.evaluate("setTimeout(() => document.querySelector('#search button[type=submit]').click(), 50)")
        control = page.locator(f'#slots tr[data-slot="{second}"] button')
        control.click()
        expect(control).to_contain_text("Réserver (")
        expect(control).to_be_focused()
        page.unroute("**/hold")
        page.click("#search button[type=submit]")
        expect(page.locator("#message")).to_have_text("2 créneau(x) libre(s), 1 retenu(s) pour cet appel")
        expect(page.locator("#slots tbody tr").first).to_have_attribute("data-slot", second)
        expect(control).to_contain_text("Réserver (")
        control.click()
        expect(page.locator("#message")).to_have_text("Créneau réservé, le médecin effecteur est prévenu")
        browser.close()
