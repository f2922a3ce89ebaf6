"""A whole shift in the console, in real Chromium windows: two operators, a regulator, a doctor and an
analyst, each in their own browser context, against one served app.

Operator A takes the call with the keyboard alone; B sees it come without a click, takes it, and A sees
who has it; the regulator takes it over (confirmed, naming B) while B's network is down, and B, back,
sees who has it within seconds; the regulator writes an observation, corrects the call, calls back,
advises, finds the nearest slot from the patient's postcode, holds it (the focus stays on "Réserver"),
books it, reads it back (the focus on the appointment), changes it, cancels it (the call comes back
flagged for re-orientation, live), books again and closes; A's session ends meanwhile, and a banner says
so; the doctor marks the patient seen; the analyst's month moves by exactly that call. Every write button
is double-clicked; the database holds each write once."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.console.helpers import ARGS, CHROMIUM, SCREENSHOTS, _accessible, _token
from tests.console.helpers import committed_rows as _rows
from tests.stats.helpers import this_month
from tests.support.cable import cable
from tests.support.factories import new_rpps
from tests.support.serving import sharing

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("SNP_REQUIRE_BROWSER"),
                                 reason="Chromium is installed by `make test`")]


@pytest.fixture(scope="module")
def world(database_url: str, shared_base: str) -> Iterator[dict]:
    with sharing(shared_base, database_url) as base:
        admin = {"Authorization": f"Bearer {_token('admin', ())}"}
        with httpx.Client(base_url=base, headers=admin) as c:
            def doctor(family: str, given: str) -> dict:
                return c.post("/v1/practitioners", json={"rpps": new_rpps(), "family_name": family,
                              "given_name": given, "territory_codes": ["36"]}).json()

            def site(name: str, address: str, postcode: str, lat: float, lon: float) -> dict:
                return c.post("/v1/sites", json={"name": name, "kind": "msp", "address": address,
                              "postcode": postcode, "lat": lat, "lon": lon, "territory_code": "36"}).json()

            def slot(who: dict, where: dict, hours: float, mode: str) -> dict:
                start = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)).replace(second=0, microsecond=0)
                made = c.post("/v1/slots", json={"practitioner_id": who["id"], "site_id": where["id"],
                              "start": start.isoformat(), "end": (start + dt.timedelta(minutes=20)).isoformat(),
                              "mode": mode})
                assert made.status_code == 201, made.text
                return made.json()

            roux, blanc = doctor("Roux", "Marc"), site("MSP du Blanc", "3 rue Haute", "36300", 46.633, 1.063)
            lefevre = doctor("Lefèvre", "Anne")
            chateauroux = site("MSP de Châteauroux", "2 rue Victor Hugo", "36000", 46.81, 1.69)
            # The earliest slot is the farthest from the patient (Le Blanc, 36300): the regulator sorts by distance.
            far = slot(lefevre, chateauroux, 1, "in_person")
            near = [slot(roux, blanc, hours, "in_person") for hours in (2, 3, 4)]
        yield {"base": base, "url": database_url, "roux": roux, "far": far, "near": near}


def _tab_to(page, selector: str, limit: int = 80) -> None:
    """Move the focus with the Tab key alone until it reaches ``selector`` (which must be reachable)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} cannot be reached with the keyboard")


def _month_row(page) -> list[str]:
    month = this_month()
    page.fill("#stats [name=to]", month)  # the form opens on the last twelve whole months
    page.evaluate("document.querySelector('#stats-table tbody').replaceChildren()")  # no stale row is read
    page.locator("#stats button[type=submit]").click()
    row = page.locator("#stats-table tbody tr").filter(has_text=month).first
    row.wait_for()
    return row.locator("td").all_inner_texts()


def _count(text: str) -> int:
    return int(text.split()[0]) if text.strip() not in ("", "—") else 0


def _pinned(page: Any, row: Any) -> Any:
    """The row of this slot, wherever it moves: a locator's ``.first`` is found again at each use, and the list
    changes live (a slot held or booked elsewhere) between a hold and its booking."""
    return page.locator(f'#slots tr[data-slot="{row.get_attribute("data-slot")}"]')


def test_a_whole_shift(world) -> None:
    from playwright.sync_api import expect, sync_playwright

    base = world["base"]
    with cable(base) as line, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)

        def window(token: str, width: int = 1440, via: str = base):
            page = browser.new_context(viewport={"width": width, "height": 900}, timezone_id="Europe/Paris",
                                       locale="fr-FR").new_page()
            page.goto(via + "/console/")
            page.fill("#token", token)
            page.fill("#territory", "36")
            page.click("#session button[type=submit]")
            expect(page.locator("#whoami")).not_to_be_empty()
            return page

        analyst = window(_token("analyst"))
        before = _month_row(analyst)

        # A's session ends during the shift (no renewal here); B's console is behind a cable that drops.
        a = window(_token("operator", sub="osnp-anna", ttl_seconds=30))
        b = window(_token("operator", sub="osnp-bruno"), via=line.url)
        regulator = window(_token("regulator", sub="dr-morel"))
        for page in (a, b, regulator):
            expect(page.locator("#live")).to_have_text("en direct")

        # Operator A takes the call with the keyboard alone.
        a.locator("body").focus()
        _tab_to(a, "#new-call [name=family_name]")
        a.keyboard.type("Moreau")
        a.keyboard.press("Tab")
        a.keyboard.type("Lucie")
        _tab_to(a, "#new-call [name=birth_year]")
        a.keyboard.type("1961")
        _tab_to(a, "#new-call [name=phone]")
        a.keyboard.type("06 11 22 33 44")
        _tab_to(a, "#new-call [name=postcode]")
        a.keyboard.type("36300")
        _tab_to(a, "#new-call [name=reason]")
        a.keyboard.type("Lombalgie aiguë, ne peut plus marcher")
        _tab_to(a, "#new-call button[type=submit]")
        a.keyboard.press("Enter")
        expect(a.locator("#call-detail")).to_be_visible()
        expect(a.locator("#call-info")).to_contain_text("Moreau Lucie")
        call_id = a.evaluate("state.call.id")

        # B sees it come without a click, takes it; A sees who has it.
        row_b = b.locator(f'#queue tr[data-call="{call_id}"]')
        expect(row_b).to_be_visible(timeout=2000)
        row_b.get_by_role("button", name="Prendre l'appel").dblclick()
        expect(a.locator(f'#queue tr[data-call="{call_id}"] .taker')).to_have_text("osnp-bruno", timeout=2000)

        # The regulator opens it from the live queue, calls back and advises (keyboard, then double clicks).
        row_r = regulator.locator(f'#queue tr[data-call="{call_id}"]')
        expect(row_r).to_be_visible(timeout=2000)
        row_r.get_by_role("button", name="Ouvrir").click()
        expect(regulator.locator("#call-info")).to_contain_text("Moreau Lucie")

        # B's network drops; the regulator takes the call over, confirmed and naming who has it.
        line.cut()
        expect(b.locator("#live")).to_have_text("Hors ligne — la file n'est plus à jour", timeout=5000)
        row_r.get_by_role("button", name="Reprendre l'appel").click()
        expect(row_r.locator(".confirm-take")).to_contain_text("Pris par osnp-bruno. Le reprendre ?")
        row_r.get_by_role("button", name="Confirmer la reprise").dblclick()
        expect(regulator.locator("#message")).to_have_text("Appel repris à osnp-bruno")
        line.mend()  # back: B sees who has it now, within seconds
        expect(b.locator("#live")).to_have_text("en direct", timeout=10000)
        expect(b.locator(f'#queue tr[data-call="{call_id}"] .taker')).to_have_text("dr-morel", timeout=5000)

        # The record: an observation, then a correction of the call (the priority), both on the timeline.
        regulator.locator("#observe textarea").fill("Douleur lombaire basse, pas de déficit, pas de fièvre")
        regulator.locator("#observe").get_by_role("button", name="Ajouter l'observation").dblclick()
        expect(regulator.locator("#call-timeline li[data-kind=observation]")).to_have_count(1)
        regulator.get_by_role("button", name="Corriger l'appel").click()
        regulator.locator("#correct [name=priority]").select_option("P1")
        regulator.locator("#correct").get_by_role("button", name="Enregistrer la correction").dblclick()
        expect(regulator.locator("#message")).to_have_text("Appel corrigé")
        expect(regulator.locator("#call-timeline li[data-kind=corrected]")).to_contain_text("priorité")
        expect(regulator.locator("#call-timeline li[data-kind=taken_over]")).to_contain_text("dr-morel")
        regulator.locator("#call-detail").focus()
        _tab_to(regulator, "#do-callback")
        regulator.keyboard.press("Enter")
        expect(regulator.locator("#message")).to_have_text("Rappel enregistré")
        regulator.locator('[data-decision="advice"]').dblclick()
        expect(regulator.locator("#call-decisions")).to_contain_text("Conseil médical")

        # The nearest slot from the patient's postcode: hold, then book; read it back.
        regulator.click("#to-slots")
        regulator.locator("#search [name=sort]").select_option("distance")
        regulator.click("#search button[type=submit]")
        first = regulator.locator("#slots tbody tr").first
        expect(first).to_contain_text("MSP du Blanc")  # not Châteauroux's earlier slot, 60 km away
        control = first.locator("button")
        control.click()
        expect(control).to_contain_text("Réserver (4:")
        expect(control).to_be_focused()  # "Retenir" became "Réserver" under the user's hand
        control.dblclick()
        expect(regulator.locator("#message")).to_have_text("Créneau réservé, le médecin effecteur est prévenu")
        appointments = regulator.locator("#call-bookings")
        expect(appointments).to_be_focused()  # the appointment, to read back
        expect(appointments).to_contain_text("Dr Roux Marc — MSP du Blanc, 3 rue Haute 36300 — Au cabinet")

        # The patient cannot come then: change the slot (the old one is cancelled in the same stroke).
        appointments.get_by_role("button", name="Changer de créneau").click()
        regulator.locator("#search [name=sort]").select_option("distance")
        regulator.click("#search button[type=submit]")
        second = _pinned(regulator, regulator.locator("#slots tbody tr").first)
        expect(second).to_contain_text("MSP du Blanc")
        second.locator("button").click()
        expect(second.locator("button")).to_contain_text("Réserver (")  # held: the button says so, then books
        second.locator("button").dblclick()
        expect(regulator.locator("#call-bookings li")).to_have_count(2)
        expect(regulator.locator("#call-bookings li.revoked")).to_have_count(1)

        # Then it is cancelled altogether: the call comes back flagged, live, in every console.
        regulator.locator("#call-bookings").get_by_role("button", name="Annuler le rendez-vous").dblclick()
        reason = regulator.locator("#call-bookings input[name=reason]")
        expect(reason).to_be_focused()  # asked in place, not in a dialog
        reason.fill("le patient préfère un autre jour")
        regulator.locator("#call-bookings").get_by_role("button", name="Confirmer l'annulation").dblclick()
        expect(regulator.locator("#message")).to_have_text("Rendez-vous annulé")
        expect(b.locator(f'#queue tr[data-call="{call_id}"]')).to_have_class("reorient", timeout=2000)
        expect(regulator.locator("#call-info")).to_contain_text("À réorienter")

        # Booked again, read back, and the call closed after a confirmation.
        regulator.click("#to-slots")
        regulator.click("#search button[type=submit]")
        third = _pinned(regulator, regulator.locator("#slots tbody tr").filter(has_text="MSP du Blanc").first)
        third.locator("button").click()
        expect(third.locator("button")).to_contain_text("Réserver (")
        third.locator("button").dblclick()
        expect(regulator.locator("#message")).to_have_text("Créneau réservé, le médecin effecteur est prévenu")
        expect(regulator.locator("#call-bookings li:not(.revoked)")).to_have_count(1)
        _accessible(regulator, "shift-regulation")
        regulator.screenshot(path=str(SCREENSHOTS / "snp-shift-regulation.png"), full_page=True)
        regulator.locator("#do-close").dblclick()
        regulator.get_by_role("button", name="Confirmer la clôture").dblclick()  # asked in place
        expect(regulator.locator("#message")).to_have_text("Appel clos")
        expect(b.locator(f'#queue tr[data-call="{call_id}"]')).to_have_count(0, timeout=2000)
        # A's token expired meanwhile: a banner says so, and the badge no longer says "en direct".
        expect(a.locator("#banner")).to_contain_text("Votre session a expiré", timeout=45000)
        expect(a.locator("#live")).not_to_have_text("en direct")

        # The doctor sees the patient once the slot has begun, and says so.
        booked_slot = _rows(world["url"], "SELECT slot_id FROM bookings WHERE call_id = :c AND status = 'active'",
                            c=call_id)[0][0]
        _rows(world["url"], "UPDATE slots SET start_at = now() - interval '5 minutes', "
                           "end_at = now() + interval '15 minutes' WHERE id = :id", id=booked_slot)
        doctor = window(_token("effector", practitioner_id=world["roux"]["id"]), width=375)
        # At the practice he is told initials and age (the name and phone only for a home visit).
        patient = doctor.locator("#my-bookings li").filter(has_text="LM, 65 ans").filter(
            has=doctor.get_by_role("button", name="Honoré", exact=True))
        patient.get_by_role("button", name="Honoré", exact=True).dblclick()
        expect(doctor.locator("#message")).to_have_text("Retour enregistré")
        doctor.screenshot(path=str(SCREENSHOTS / "snp-shift-effector.png"), full_page=True)

        # The analyst's month moved by exactly this call: one call, one advice, one slot.
        after = _month_row(analyst)
        assert _count(after[1]) == _count(before[1]) + 1, (before, after)
        assert _count(after[2]) == _count(before[2]) + 1, (before, after)
        assert _count(after[3]) == _count(before[3]) + 1, (before, after)
        analyst.screenshot(path=str(SCREENSHOTS / "snp-shift-analyst.png"), full_page=True)
        browser.close()

    # Each double-clicked write is in the database once.
    url = world["url"]
    assert _rows(url, "SELECT count(*) FROM call_callbacks WHERE call_id = :c", c=call_id) == [(1,)]
    assert _rows(url, "SELECT count(*) FROM call_observations WHERE call_id = :c", c=call_id) == [(1,)]
    assert _rows(url, "SELECT action, count(*) FROM audit_log WHERE call_id = :c AND action IN "
                      "('call.assigned', 'call.taken_over') GROUP BY action ORDER BY action",
                 c=call_id) == [("call.assigned", 1), ("call.taken_over", 1)]  # B took it, the regulator from B
    assert _rows(url, "SELECT kind, count(*) FROM decisions WHERE call_id = :c AND revoked_at IS NULL "
                      "GROUP BY kind ORDER BY kind", c=call_id) == [("advice", 1), ("slot", 1)]
    statuses = _rows(url, "SELECT status, outcome FROM bookings WHERE call_id = :c ORDER BY created_at", c=call_id)
    assert [s for s, _ in statuses] == ["cancelled", "cancelled", "active"]
    assert statuses[-1][1] == "fulfilled"
    # taken over from B
    assert _rows(url, "SELECT status, assigned_to FROM calls WHERE id = :c", c=call_id) == [("closed", "dr-morel")]
    assert _rows(url, "SELECT count(*) > 0 FROM audit_log WHERE call_id = :c AND actor_sub = 'dr-morel'",
                 c=call_id) == [(True,)]
