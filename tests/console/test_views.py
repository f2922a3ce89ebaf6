"""Every role's view in a real Chromium: what it shows, that it is accessible (axe-core: no serious or
critical violation), French messages, the territory's time, and screenshots at four widths."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.console.helpers import ARGS, CHROMIUM, SCREENSHOTS, _accessible, _token
from tests.support.factories import new_rpps
from tests.support.serving import sharing

WIDTHS = (1440, 1024, 768, 375)

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("SNP_REQUIRE_BROWSER"),
                                 reason="Chromium is installed by `make test`")]




def _sql(url: str, statement: str, **params) -> None:
    async def run() -> None:
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text(statement), params)
        await engine.dispose()
    asyncio.run(run())


@pytest.fixture(scope="module")
def world(database_url: str, shared_base: str) -> Iterator[dict]:
    with sharing(shared_base, database_url) as base:
        admin = {"Authorization": f"Bearer {_token('admin', ())}"}
        with httpx.Client(base_url=base, headers=admin) as c:
            doctor = c.post("/v1/practitioners", json={"rpps": new_rpps(), "family_name": "Roux", "given_name": "Marc",
                            "territory_codes": ["36"]}).json()
            site = c.post("/v1/sites", json={"name": "MSP du Blanc", "kind": "msp", "address": "3 rue Haute",
                          "postcode": "36300", "lat": 46.63, "lon": 1.06, "territory_code": "36"}).json()
            slots = []
            for hours in (2, 3, 4):
                start = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)).replace(second=0, microsecond=0)
                slots.append(c.post("/v1/slots", json={"practitioner_id": doctor["id"], "site_id": site["id"],
                             "start": start.isoformat(), "end": (start + dt.timedelta(minutes=20)).isoformat(),
                             "mode": "home_visit"}).json())
        yield {"base": base, "doctor": doctor, "site": site, "slots": slots, "url": database_url}


def _open(pw, world, token: str, width: int = 1440, zone: str = "Europe/Paris"):
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    page = browser.new_context(viewport={"width": width, "height": 900}, timezone_id=zone,
                               locale="fr-FR").new_page()
    page.goto(world["base"] + "/console/")
    page.fill("#token", token)
    page.click("#session button[type=submit]")
    return browser, page




def _shoot(page, name: str, widths=WIDTHS) -> None:
    for width in widths:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SCREENSHOTS / f"snp-{name}-{width}.png"), full_page=True)
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width + 1, f"{name} at {width} px is {scroll} px wide"



def _fill_redirection(page, **fields: str) -> None:
    """The ED nurse's patient form filled, then the slots searched."""
    form = page.locator("#redirection")
    for name, value in fields.items():
        form.locator(f"[name={name}]").fill(value)
    page.click("#search button[type=submit]")

def test_the_ed_nurse_redirects_a_patient_in_one_form(world) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser, page = _open(pw, world, _token("urgences", sub="ioa-blanc"))
        expect(page.locator("#whoami")).to_contain_text("Urgences (IOA)")
        expect(page.locator('nav button[data-tab="calls"]')).to_be_hidden()
        expect(page.locator("#redirection")).to_be_visible()
        _fill_redirection(page, family_name="Giraud", birth_year="1988", phone="06 44 55 66 77",
                          reason="entorse de cheville")
        form = page.locator("#redirection")  # the patient agrees to an SMS, as a call's patient is asked
        form.locator("[name=notify_consent]").select_option("patient")
        form.locator("[name=notify]").select_option("sms")
        page.locator("#slots tbody tr").first.get_by_role("button", name="Réorienter ici").click()
        with page.expect_response(lambda r: r.url.endswith("/v1/bookings") and r.request.method == "POST") as sent:
            page.get_by_role("button", name="Confirmer la réorientation").click()  # asked in place, beside the slot
        expect(page.locator("#message")).to_have_text("Patient réorienté, le médecin effecteur est prévenu")
        expect(page.locator("#my-redirections li")).to_have_count(1)
        expect(page.locator("#slip-notice")).to_have_text("envoyée au patient par SMS, avec un lien pour annuler")
        call_id = sent.value.json()["call_id"]
        call = httpx.get(f"{world['base']}/v1/calls/{call_id}",
                         headers={"Authorization": f"Bearer {_token('regulator')}"}).json()
        assert (call["notify"], call["notify_consent"]) == ("sms", "patient")
        _accessible(page, "urgences")
        _shoot(page, "urgences", (1440, 1024, 768))
        browser.close()


def test_an_older_search_answer_never_covers_a_newer_one(world) -> None:
    """A regulator searches, changes a filter and searches again before the first answer came: the table
    shows the second search. The page's first search request is held back 800 ms so that its answer comes
    last, as a slow network or a busy server does."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser, page = _open(pw, world, _token("regulator"))
        expect(page.locator("#whoami")).to_contain_text("Médecin régulateur")
        page.evaluate("""() => {
          const send = window.fetch; let held = false;
          window.fetch = (url, options) => {
            if (!held && String(url).includes("/v1/slots/search")) {
              held = true;
              return new Promise((go) => setTimeout(go, 800)).then(() => send(url, options));
            }
            return send(url, options);
          };
        }""")
        page.click('nav button[data-tab="slots"]')
        search = page.locator("#search")
        search.locator("[name=mode]").select_option("home_visit")  # the world's three slots
        search.locator("button[type=submit]").click()
        search.locator("[name=mode]").select_option("teleconsultation")  # none
        search.locator("button[type=submit]").click()
        expect(page.locator("#message")).to_have_text("0 créneau(x) libre(s)")
        page.wait_for_timeout(1500)  # the held answer (three rows) has come by now, and was dropped
        expect(page.locator("#slots tbody tr")).to_have_count(0)
        expect(page.locator("#message")).to_have_text("0 créneau(x) libre(s)")
        browser.close()


def test_the_effector_sees_his_patients_and_says_whether_they_came(world) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, doctor, slot = world["base"], world["doctor"], world["slots"][1]
    regulator = {"Authorization": f"Bearer {_token('regulator')}"}
    call = httpx.post(base + "/v1/calls", headers=regulator, json={
        "territory_code": "36", "channel": "15", "patient": {"family_name": "Blanc", "given_name": "Jeanne",
                                                           "birth_year": 1940, "phone": "0254667788",
                                                           "address": "9 allée des Pins"},
        "general_practitioner": {"family_name": "Quillivic", "mssante_address": "b.quillivic@medecin.mssante.fr"},
        "gp_report": "not_objected"}).json()
    booked = httpx.post(base + "/v1/bookings", headers=regulator, json={"slot_id": slot["id"], "call_id": call["id"]})
    assert booked.status_code == 201, booked.text
    # time passes: the home visit has begun
    _sql(world["url"], "UPDATE slots SET start_at = now() - interval '10 minutes', "
                       "end_at = now() + interval '10 minutes' WHERE id = :id", id=slot["id"])
    with sync_playwright() as pw:
        browser, page = _open(pw, world, _token("effector", practitioner_id=doctor["id"]), width=375)
        expect(page.locator("#whoami")).to_contain_text("Médecin effecteur")
        item = page.locator("#my-bookings li").filter(has_text="Blanc Jeanne")
        expect(item).to_contain_text("9 allée des Pins")
        expect(item).to_contain_text("0254667788")
        # the visit's report to the médecin traitant, with the traits he files it by
        item.locator("summary").click()
        report = item.locator("form.report")
        report.get_by_label("Compte rendu").fill("Chute sans gravité, radiographie inutile.")
        report.get_by_label("Nom de naissance").fill("Lefort")
        report.get_by_label("Prénom").fill("Jeanne")
        report.get_by_label("Date de naissance").fill("1940-02-11")
        report.get_by_label("Sexe").select_option("F")
        item.get_by_role("button", name="Honoré", exact=True).dblclick()
        expect(page.locator("#message")).to_have_text(
            "Retour enregistré ; le compte rendu part au médecin traitant par messagerie sécurisée")
        # read again, the appointment says how the report fares
        expect(page.locator("#my-bookings li").filter(has_text="Blanc Jeanne")).to_contain_text(
            "compte rendu au médecin traitant : en attente")
        expect(page.locator("#participation tbody tr").first).to_be_visible()
        _accessible(page, "effector")
        _shoot(page, "effector")
        browser.close()
    read = httpx.get(f"{base}/v1/bookings/{booked.json()['id']}", headers=regulator).json()
    assert read["outcome"] == "fulfilled" and read["report"]["state"] == "pending"


def test_the_analyst_sees_statistics_only(world) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser, page = _open(pw, world, _token("analyst"))
        expect(page.locator("#tab-stats")).to_be_visible()
        for tab in ("calls", "slots", "mine"):
            expect(page.locator(f'nav button[data-tab="{tab}"]')).to_be_hidden()
        page.click("#stats button[type=submit]")
        expect(page.locator("#stats-table tbody tr")).to_have_count(13)  # twelve months and the total
        expect(page.locator("#stats-chart")).to_be_visible()
        _accessible(page, "analyst")
        _shoot(page, "analyst", (1440, 1024, 768))
        browser.close()


def test_a_reunion_call_is_shown_in_reunion_time_to_a_browser_in_paris(world) -> None:
    from playwright.sync_api import expect, sync_playwright

    received = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)).replace(second=0, microsecond=0)
    regulator = _token("regulator", ("974",))
    call = httpx.post(world["base"] + "/v1/calls", headers={"Authorization": f"Bearer {regulator}"}, json={
        "territory_code": "974", "channel": "15", "received_at": received.isoformat()})
    assert call.status_code == 201, call.text
    local = received.astimezone(dt.timezone(dt.timedelta(hours=4))).strftime("%d/%m/%Y %H:%M")
    with sync_playwright() as pw:
        browser, page = _open(pw, world, regulator, zone="Europe/Paris")
        page.fill("#territory", "974")
        page.click("#session button[type=submit]")
        expect(page.locator("#whoami")).to_contain_text("heures de Indian/Reunion")
        expect(page.locator(f'#queue tr[data-call="{call.json()["id"]}"]')).to_contain_text(local)
        _accessible(page, "regulation")
        _shoot(page, "regulation", (1440, 1024, 768))
        browser.close()


def test_an_expired_token_and_a_refused_action_speak_french(world) -> None:
    from playwright.sync_api import expect, sync_playwright

    expired = _token("regulator", ttl_seconds=1)
    time.sleep(2)
    with sync_playwright() as pw:
        browser, page = _open(pw, world, expired)
        expect(page.locator("#whoami")).to_have_text("Votre session n'est pas valide ou a expiré : reconnectez-vous.")
        page.fill("#token", _token("operator"))
        page.click("#session button[type=submit]")
        form = page.locator("#new-call")
        form.locator("[name=reason]").fill("douleur")
        form.locator("[name=phone]").fill("0611223344")
        # the médecin traitant, typed, and the patient's word on the report going to him
        form.locator("[name=general_practitioner_family_name]").fill("Quillivic")
        form.locator("[name=general_practitioner_mssante_address]").fill("b.quillivic@medecin.mssante.fr")
        form.locator("[name=gp_report]").select_option("not_objected")
        with page.expect_response(lambda r: r.url.endswith("/v1/calls") and r.request.method == "POST") as sent:
            form.locator("button[type=submit]").click()
        entered = sent.value.json()
        assert entered["general_practitioner"]["mssante_address"] == "b.quillivic@medecin.mssante.fr"
        assert entered["gp_report"] == "not_objected"
        expect(page.locator("#call-detail")).to_be_visible()
        page.click("#do-callback")  # a callback is the regulator's
        expect(page.locator("#message")).to_have_text("Votre rôle ne permet pas cette action.")
        browser.close()


def test_the_effector_opens_a_weekly_availability(world) -> None:
    from playwright.sync_api import expect, sync_playwright

    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    token = _token("effector", practitioner_id=world["doctor"]["id"])
    with sync_playwright() as pw:
        browser, page = _open(pw, world, token)
        form = page.locator("#rule")
        for day in ("Mardi", "Jeudi"):
            form.get_by_label(day).check()
        form.locator("[name=start_time]").fill("18:00")
        form.locator("[name=end_time]").fill("19:00")
        form.locator("[name=valid_from]").fill(tomorrow)
        form.locator("button[type=submit]").dblclick()
        expect(page.locator("#message")).to_contain_text("Disponibilité enregistrée")
        expect(page.locator("#my-rules li")).to_have_count(1)
        _accessible(page, "effector-rule")
        browser.close()
    rules = httpx.get(world["base"] + "/v1/availability-rules", headers={"Authorization": f"Bearer {token}"}).json()
    assert [(r["weekdays"], r["start_time"], r["slot_minutes"]) for r in rules] == [([2, 4], "18:00:00", 20)]


def test_a_time_typed_for_la_reunion_is_la_reunion_time_in_a_browser_in_paris(world) -> None:
    """The over-capacity form: 10:00 typed by a regulator of La Réunion is 10:00 there (06:00 UTC), not
    10:00 in Paris, where his browser is."""
    from playwright.sync_api import expect, sync_playwright

    base = world["base"]
    admin = {"Authorization": f"Bearer {_token('admin', ())}"}
    site = httpx.post(base + "/v1/sites", headers=admin, json={
        "name": "Cabinet de Saint-Denis", "kind": "cabinet", "address": "1 rue de Paris", "postcode": "97400",
        "lat": -20.88, "lon": 55.45, "territory_code": "974"})
    assert site.status_code == 201, site.text
    doctor = httpx.post(base + "/v1/practitioners", headers=admin, json={
        "rpps": new_rpps(), "family_name": "Payet", "given_name": "Lucas", "territory_codes": ["974"],
        "accepts_over_capacity": True, "site_ids": [site.json()["id"]], "phone": "0692 11 22 33"})
    assert doctor.status_code == 201, doctor.text
    not_his = httpx.post(base + "/v1/sites", headers=admin, json={
        "name": "MSP de Saint-Pierre", "kind": "msp", "address": "5 rue Désiré Barquisseau", "postcode": "97410",
        "lat": -21.34, "lon": 55.48, "territory_code": "974"})
    assert not_his.status_code == 201, not_his.text
    regulator = _token("regulator", ("974",))
    call = httpx.post(base + "/v1/calls", headers={"Authorization": f"Bearer {regulator}"},
                      json={"territory_code": "974", "channel": "15", "patient": {"phone": "0262000000"}}).json()
    day = dt.date.today() + dt.timedelta(days=2)
    with sync_playwright() as pw:
        browser, page = _open(pw, world, regulator, zone="Europe/Paris")
        page.fill("#territory", "974")
        page.click("#session button[type=submit]")
        expect(page.locator("#whoami")).to_contain_text("heures de Indian/Reunion")
        page.locator(f'#queue tr[data-call="{call["id"]}"]').get_by_role("button", name="Ouvrir").click()
        page.click('nav button[data-tab="slots"]')
        form = page.locator("#over-capacity")
        expect(form.locator("#oc-practitioner option")).to_have_count(1)
        # the regulator calls him on his phone, and is offered his own site only
        expect(form.locator("#oc-phone")).to_contain_text("0692112233")
        expect(form.locator("#oc-site option")).to_have_count(1)
        expect(form.locator("#oc-site option")).to_have_text("Cabinet de Saint-Denis, 97400")
        form.locator("[name=start]").fill(f"{day.isoformat()}T10:00")
        form.locator("button[type=submit]").click()
        expect(page.locator("#message")).to_contain_text("surnuméraire enregistré")
        browser.close()
    booked = httpx.get(f"{base}/v1/calls/{call['id']}", headers={"Authorization": f"Bearer {regulator}"}).json()
    booking = httpx.get(f"{base}/v1/bookings/{booked['bookings'][0]['id']}",
                        headers={"Authorization": f"Bearer {regulator}"}).json()
    assert dt.datetime.fromisoformat(booking["slot"]["start"]) == dt.datetime.combine(
        day, dt.time(6, 0), tzinfo=dt.UTC)


def test_the_effector_sets_his_consent_phone_and_sites_and_reads_his_appointments_in_order(world) -> None:
    """His view: the settings form (over-capacity consent, phone, own sites) through PATCH
    /v1/practitioners/me, a refusal kept beside the field; his appointments soonest first, each with what
    he said of it and of the patient what the mode needs."""
    from playwright.sync_api import expect, sync_playwright

    base = world["base"]
    admin = {"Authorization": f"Bearer {_token('admin', ())}"}
    regulator = {"Authorization": f"Bearer {_token('regulator')}"}
    near = httpx.post(base + "/v1/sites", headers=admin, json={
        "name": "Cabinet de Déols", "kind": "cabinet", "address": "2 rue de Paris", "postcode": "36130",
        "lat": 46.83, "lon": 1.70, "territory_code": "36"}).json()
    doctor = httpx.post(base + "/v1/practitioners", headers=admin, json={
        "rpps": new_rpps(), "family_name": "Perrin", "given_name": "Hélène", "territory_codes": ["36"]}).json()
    me = {"Authorization": f"Bearer {_token('effector', practitioner_id=doctor['id'])}"}
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    patients = {
        "home_visit": {"family_name": "Morel", "given_name": "Paul", "birth_year": 1950, "phone": "0254112233",
                       "address": "4 impasse des Lilas"},
        "teleconsultation": {"family_name": "Caron", "given_name": "Lise", "birth_year": 1990,
                             "phone": "0654998877"},
        "in_person": {"family_name": "Lemoine", "given_name": "Yves", "birth_year": 1960, "phone": "0254000001"},
    }
    booking_of = {}
    for hours, mode in ((5, "home_visit"), (3, "teleconsultation"), (4, "in_person")):
        start = now + dt.timedelta(hours=hours)
        slot = httpx.post(base + "/v1/slots", headers=admin, json={
            "practitioner_id": doctor["id"], "site_id": near["id"], "start": start.isoformat(),
            "end": (start + dt.timedelta(minutes=20)).isoformat(), "mode": mode}).json()
        call = httpx.post(base + "/v1/calls", headers=regulator, json={
            "territory_code": "36", "channel": "15", "patient": patients[mode]}).json()
        booked = httpx.post(base + "/v1/bookings", headers=regulator, json={"slot_id": slot["id"],
                                                                            "call_id": call["id"]})
        assert booked.status_code == 201, booked.text
        booking_of[mode] = booked.json()["id"]
        if mode == "in_person":  # this one was this morning, and the patient did not come
            _sql(world["url"], "UPDATE slots SET start_at = now() - interval '3 hours', "
                               "end_at = now() - interval '170 minutes' WHERE id = :id", id=slot["id"])
            said = httpx.post(f"{base}/v1/bookings/{booking_of[mode]}/outcome", headers=me, json={"status": "noshow"})
            assert said.status_code == 200, said.text
    with sync_playwright() as pw:
        browser, page = _open(pw, world, _token("effector", practitioner_id=doctor["id"]))
        expect(page.locator("#whoami")).to_contain_text("Médecin effecteur")
        rows = page.locator("#my-bookings li")
        expect(rows).to_have_count(3)
        expect(rows.nth(0)).to_contain_text("Au cabinet")
        expect(rows.nth(0)).to_contain_text("YL, ")  # at the practice: initials and age, no name, no phone
        expect(rows.nth(0)).to_contain_text("retour : non honoré")
        expect(rows.nth(0)).not_to_contain_text("0254000001")
        expect(rows.nth(0).get_by_role("button")).to_have_count(0)  # said once
        expect(rows.nth(1)).to_contain_text("Téléconsultation")
        expect(rows.nth(1)).to_contain_text("tél. 0654998877")
        expect(rows.nth(1)).not_to_contain_text("Caron")
        expect(rows.nth(2)).to_contain_text("Visite à domicile")
        expect(rows.nth(2)).to_contain_text("Morel Paul")
        expect(rows.nth(2)).to_contain_text("4 impasse des Lilas")
        expect(rows.nth(2)).to_contain_text("tél. 0254112233")

        form = page.locator("#my-settings")
        expect(form.locator("[name=accepts_over_capacity]")).not_to_be_checked()
        form.locator("[name=accepts_over_capacity]").check()
        form.locator("[name=phone]").fill("06 12 34 56 78")
        form.get_by_label("Cabinet de Déols").check()
        form.get_by_role("button", name="Enregistrer mes réglages").click()
        expect(page.locator("#message")).to_have_text("Réglages enregistrés")
        expect(form.locator("[name=phone]")).to_have_value("0612345678")
        _accessible(page, "effector-settings")

        form.locator("[name=phone]").fill("12")
        form.get_by_role("button", name="Enregistrer mes réglages").click()
        expect(page.locator("#my-settings-error")).to_contain_text("Téléphone")
        expect(form.locator("[name=phone]")).to_be_focused()
        expect(form.locator("[name=phone]")).to_have_attribute("aria-invalid", "true")
        expect(form.locator("[name=phone]")).to_have_value("12")  # what he typed stays
        browser.close()
    saved = httpx.get(f"{base}/v1/practitioners/{doctor['id']}", headers=me).json()
    assert (saved["accepts_over_capacity"], saved["phone"], saved["site_ids"]) == (True, "0612345678", [near["id"]])


def test_the_ed_nurse_prints_the_patients_slip_alone_on_one_page(world) -> None:
    """After the redirection the nurse reads the doctor, the address and the time in Paris time, and
    prints a slip for the patient: printed, the page is the slip alone, without navigation, on one page."""
    from zoneinfo import ZoneInfo

    from playwright.sync_api import expect, sync_playwright

    base = world["base"]
    admin = {"Authorization": f"Bearer {_token('admin', ())}"}
    site = httpx.post(base + "/v1/sites", headers=admin, json={
        "name": "Centre de santé d'Issoudun", "kind": "centre_sante", "address": "12 rue de la Poterie",
        "postcode": "36100", "lat": 46.95, "lon": 1.99, "territory_code": "36", "phone": "02 54 21 00 00"}).json()
    doctor = httpx.post(base + "/v1/practitioners", headers=admin, json={
        "rpps": new_rpps(), "family_name": "Fabre", "given_name": "Anne", "territory_codes": ["36"],
        "site_ids": [site["id"]]}).json()
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).replace(second=0, microsecond=0)
    made = httpx.post(base + "/v1/slots", headers=admin, json={
        "practitioner_id": doctor["id"], "site_id": site["id"], "start": start.isoformat(),
        "end": (start + dt.timedelta(minutes=20)).isoformat(), "mode": "in_person"})
    assert made.status_code == 201, made.text
    local = start.astimezone(ZoneInfo("Europe/Paris"))
    paris = f"{local.hour}h{local.minute:02d}"  # the hour as the patient's SMS writes it
    with sync_playwright() as pw:
        # a browser set to another zone: the slip still says Paris time
        browser, page = _open(pw, world, _token("urgences", sub="ioa-issoudun"), zone="America/New_York")
        expect(page.locator("#redirection")).to_be_visible()
        _fill_redirection(page, family_name="Bertin", given_name="Noé", birth_year="1979", phone="0611002200")
        page.locator("#slots tbody tr").filter(has_text="Fabre").get_by_role("button", name="Réorienter ici").click()
        page.get_by_role("button", name="Confirmer la réorientation").click()
        expect(page.locator("#message")).to_have_text("Patient réorienté, le médecin effecteur est prévenu")
        slip = page.locator("#ed-slip")
        expect(slip).to_be_visible()
        expect(page.locator("#slip-patient")).to_have_text("Bertin Noé, né(e) en 1979")
        expect(page.locator("#slip-doctor")).to_have_text("Dr Fabre Anne")
        expect(page.locator("#slip-address")).to_contain_text("12 rue de la Poterie 36100")
        expect(page.locator("#slip-address")).to_contain_text("tél. 0254210000")
        expect(page.locator("#slip-time")).to_contain_text(f"à {paris} (heure de Paris)")
        expect(page.locator("#slip-notice")).to_have_text("aucun message au patient : ce bon fait foi")
        expect(page.locator("#slip-cancel")).to_have_text("Pour annuler : appelez le 116 117.")
        expect(slip.get_by_role("button", name="Imprimer le bon")).to_be_visible()
        _accessible(page, "urgences-slip")

        page.emulate_media(media="print")
        expect(slip).to_be_visible()
        for hidden in ("header nav", "#session", "#redirection", "#search", "#slots", "#message",
                       "#my-redirections-block"):
            expect(page.locator(hidden)).to_be_hidden()
        expect(slip.get_by_role("button", name="Imprimer le bon")).to_be_hidden()
        pdf = page.pdf(format="A4")
        assert len(re.findall(rb"/Type\s*/Page(?!s)", pdf)) == 1
        browser.close()
