"""The operator asks the patient whether he agrees to be told of his appointment, and how, on the call form; a
landline with SMS is refused at once on the phone field; the slot is booked from the console, and the served app's
sender puts the confirmation in its SMS sink, in the territory's time, with the cancel link."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.console.helpers import ARGS, CHROMIUM, _accessible, _token
from tests.support.factories import new_rpps
from tests.support.serving import served

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("SNP_REQUIRE_BROWSER"),
                                 reason="Chromium is installed by `make test`")]


def _signed_in(pw, base: str, token: str, timezone: str = "Europe/Paris"):
    """A browser, and a French console page in ``timezone`` signed in with ``token``."""
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    page = browser.new_context(locale="fr-FR", timezone_id=timezone).new_page()
    page.goto(base + "/console/")
    page.fill("#token", token)
    page.click("#session button[type=submit]")
    return browser, page


@pytest.fixture(scope="module")
def sink(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sms") / "sms.jsonl"


@pytest.fixture(scope="module")
def base(database_url: str, sink: Path) -> Iterator[str]:
    """An app of its own: its sender writes each SMS to the sink (SNP_SMS_SINK), every 0.2 s, and gives up a
    message it cannot send within 3 s (tried again after 0.5 s, doubling)."""
    with served(database_url, {"SNP_SMS_SINK": str(sink), "SNP_NOTICE_SECONDS": "0.2",
                               "SNP_NOTICE_GIVE_UP_SECONDS": "3", "SNP_NOTICE_RETRY_SECONDS": "0.5"}) as url:
        yield url


def _sms(sink: Path, to: str | None = None) -> list[dict]:
    """What the sink received (to this number only, when given)."""
    sent = [json.loads(line) for line in sink.read_text().splitlines()] if sink.is_file() else []
    return [m for m in sent if to is None or m["to"] == to]


def _wait_sms(sink: Path, to: str, timeout: float = 15) -> list[dict]:
    deadline = time.monotonic() + timeout
    while not _sms(sink, to) and time.monotonic() < deadline:
        time.sleep(0.2)
    return _sms(sink, to)


def _slot(base: str, family_name: str, address: str, hours: int = 3) -> dt.datetime:
    """A doctor of the Indre, his site and one free slot ``hours`` from now; its start."""
    admin = {"Authorization": f"Bearer {_token('admin', ())}"}
    with httpx.Client(base_url=base, headers=admin) as c:
        doctor = c.post("/v1/practitioners", json={"rpps": new_rpps(), "family_name": family_name,
                        "given_name": "Paul", "territory_codes": ["36"]}).json()
        site = c.post("/v1/sites", json={"name": f"Cabinet {family_name}", "kind": "cabinet", "address": address,
                      "postcode": "36000", "lat": 46.81, "lon": 1.69, "territory_code": "36"}).json()
        start = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)).replace(second=0, microsecond=0)
        made = c.post("/v1/slots", json={"practitioner_id": doctor["id"], "site_id": site["id"],
                      "start": start.isoformat(), "end": (start + dt.timedelta(minutes=20)).isoformat(),
                      "mode": "in_person"})
        assert made.status_code == 201, made.text
    return start


def test_the_operator_asks_consent_and_channel_and_the_confirmation_reaches_the_patient(base: str, sink: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    admin = {"Authorization": f"Bearer {_token('admin', ())}"}
    with httpx.Client(base_url=base, headers=admin) as c:
        doctor = c.post("/v1/practitioners", json={"rpps": new_rpps(), "family_name": "Lefèvre",
                        "given_name": "Anne", "territory_codes": ["36"]}).json()
        site = c.post("/v1/sites", json={"name": "MSP de Châteauroux", "kind": "msp", "address": "2 rue Victor Hugo",
                      "postcode": "36000", "lat": 46.81, "lon": 1.69, "territory_code": "36"}).json()
        start = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)).replace(second=0, microsecond=0)
        made = c.post("/v1/slots", json={"practitioner_id": doctor["id"], "site_id": site["id"],
                      "start": start.isoformat(), "end": (start + dt.timedelta(minutes=20)).isoformat(),
                      "mode": "in_person"})
        assert made.status_code == 201, made.text

    with sync_playwright() as pw:
        browser, page = _signed_in(pw, base, _token("operator", sub="arm-1"))
        expect(page.locator("#whoami")).to_contain_text("Opérateur")

        form = page.locator("#new-call")
        form.locator("[name=family_name]").fill("Durand")
        form.locator("[name=given_name]").fill("Louise")
        form.locator("[name=birth_year]").fill("1950")
        form.locator("[name=phone]").fill("02 54 00 00 00")
        form.locator("[name=postcode]").fill("36000")
        form.locator("[name=reason]").fill("Fièvre depuis deux jours")
        notify = form.get_by_role("group", name="Informer le patient de son rendez-vous")
        expect(notify).to_contain_text("Le patient accepte-t-il un SMS ou un e-mail ?")
        notify.locator("[name=notify_consent]").select_option("patient")
        notify.locator("[name=notify]").select_option("sms")
        form.locator("button[type=submit]").click()
        phone = form.locator("[name=phone]")  # a landline: SMS impossible, said on the field at once
        expect(phone).to_have_attribute("aria-invalid", "true")
        expect(form.locator(".field-error")).to_contain_text("SMS impossible")
        phone.fill("06 01 02 03 04")
        form.locator("button[type=submit]").click()
        expect(page.locator("#call-detail")).to_be_visible()
        expect(page.locator("#call-info")).to_contain_text("Durand Louise")
        call_id = page.evaluate("state.call.id")

        page.click('nav button[data-tab="slots"]')
        page.click("#search button[type=submit]")
        row = page.locator("#slots tbody tr").filter(has_text="Dr Lefèvre")
        control = row.locator("button")
        control.click()  # holds
        expect(control).to_contain_text("Réserver (4:")
        control.click()
        expect(page.locator("#message")).to_have_text("Créneau réservé, le médecin effecteur est prévenu")
        browser.close()

    sent = _wait_sms(sink, "+33601020304")
    assert len(sent) == 1
    paris = start.astimezone(ZoneInfo("Europe/Paris"))
    text = sent[0]["text"]
    assert f"{paris.hour}h{paris.minute:02d}" in text and "2 rue Victor Hugo" in text and "Dr Lefèvre" in text
    assert f"{base}/p/" in text and "Fièvre" not in text and "fievre" not in text.lower()
    call = httpx.get(f"{base}/v1/calls/{call_id}", headers={"Authorization": f"Bearer {_token('regulator')}"}).json()
    assert (call["notify"], call["notify_consent"]) == ("sms", "patient")
    assert [m["state"] for m in call["messages"] if m["kind"] == "confirmation"] == ["sent"]
    # and the reminder waits for its time (none when that falls in a night it cannot be moved before)
    assert {(m["kind"], m["state"]) for m in call["messages"] if m["kind"] != "confirmation"} <= {
        ("reminder", "pending")}


MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre")


def test_the_ed_nurses_slip_says_what_the_patients_sms_says(base: str, sink: Path) -> None:
    """The same booking: the slip the nurse prints and the SMS the patient receives give the same date, time,
    doctor, address and way to cancel."""
    from playwright.sync_api import expect, sync_playwright

    _slot(base, "Bernard", "14 avenue de la Gare", hours=5)
    with sync_playwright() as pw:
        browser, page = _signed_in(pw, base, _token("urgences", sub="ioa-chateauroux"), timezone="America/New_York")
        form = page.locator("#redirection")
        expect(form).to_be_visible()
        for name, value in {"family_name": "Petit", "given_name": "Léa", "birth_year": "1990",
                            "phone": "06 12 34 56 78", "postcode": "36000"}.items():
            form.locator(f"[name={name}]").fill(value)
        form.locator("[name=notify_consent]").select_option("patient")
        form.locator("[name=notify]").select_option("sms")
        page.click("#search button[type=submit]")
        page.locator("#slots tbody tr").filter(has_text="Bernard").get_by_role("button", name="Réorienter ici").click()
        page.get_by_role("button", name="Confirmer la réorientation").click()
        expect(page.locator("#ed-slip")).to_be_visible()
        expect(page.locator("#slip-cancel")).not_to_be_empty()
        slip = {k: page.locator(f"#slip-{k}").inner_text() for k in ("time", "doctor", "address", "cancel")}
        browser.close()

    sent = _wait_sms(sink, "+33612345678")
    assert len(sent) == 1, sent
    text = sent[0]["text"]
    found = re.search(r"RDV (\d\d)/(\d\d) à (\d{1,2}h\d\d), (Dr [^,]+), (.+?)\. Apportez", text)
    assert found, text
    day, month, hour, doctor, place = found.groups()
    assert f" {int(day)} {MONTHS[int(month) - 1]} " in slip["time"] and f" à {hour} " in slip["time"], (slip, text)
    assert slip["doctor"].startswith(doctor), (slip, text)
    assert place == "14 avenue de la Gare 36000" and place in slip["address"], (slip, text)
    # how to cancel: the SMS's link, or the number both give
    assert f"Annuler: {base}/p/" in text and "le lien reçu par SMS" in slip["cancel"]
    number = re.search(r"appelez le ([\d ]+)\.$", text)
    assert number and slip["cancel"].endswith(f"appelez le {number.group(1)}."), (slip, text)


def test_the_call_shows_the_confirmation_sent_then_a_message_given_up(base: str, sink: Path) -> None:
    """The regulator books for a patient who agreed to an SMS: the call's view says the confirmation was sent,
    by itself; the provider then down, the cancellation's failure stands out once it is given up."""
    from playwright.sync_api import expect, sync_playwright

    start = _slot(base, "Garnier", "5 place de la République")
    regulator = _token("regulator", sub="dr-morel")
    made = httpx.post(f"{base}/v1/calls", headers={"Authorization": f"Bearer {regulator}"}, json={
        "territory_code": "36", "channel": "15", "reason": "Toux depuis trois jours", "notify": "sms",
        "notify_consent": "patient", "patient": {"family_name": "Roy", "given_name": "Marie", "birth_year": 1962,
                                                 "phone": "06 22 33 44 55", "postcode": "36000"}})
    assert made.status_code == 201, made.text
    call_id = made.json()["id"]
    aside = sink.with_name("sms-aside.jsonl")
    with sync_playwright() as pw:
        browser, page = _signed_in(pw, base, regulator)
        page.locator(f'#queue tr[data-call="{call_id}"]').get_by_role("button", name="Ouvrir").click()
        page.click('nav button[data-tab="slots"]')
        page.click("#search button[type=submit]")
        control = page.locator("#slots tbody tr").filter(has_text="Dr Garnier").locator("button")
        control.click()  # holds
        expect(control).to_contain_text("Réserver (4:")
        control.click()
        expect(page.locator("#message")).to_have_text("Créneau réservé, le médecin effecteur est prévenu")

        table = page.locator("#call-messages")
        expect(table.get_by_role("columnheader", name="État")).to_be_visible()
        confirmation = table.locator("tbody tr").filter(has_text="confirmation")
        paris = start.astimezone(ZoneInfo("Europe/Paris"))
        expect(confirmation).to_contain_text("SMS")
        expect(confirmation).to_contain_text(f"{paris.hour:02d}:{paris.minute:02d}")  # the appointment, local time
        expect(confirmation.locator("td").nth(3)).to_have_text("envoyé", timeout=15000)  # read again by itself
        assert len(_wait_sms(sink, "+33622334455")) == 1
        _accessible(page, "call-messages")

        # the SMS provider goes down: the cancellation cannot go, and is given up after 3 s
        sink.rename(aside)
        sink.mkdir()
        try:
            page.locator("#call-bookings").get_by_role("button", name="Annuler le rendez-vous").click()
            page.locator("#call-bookings input[name=reason]").fill("le patient va mieux")
            page.locator("#call-bookings").get_by_role("button", name="Confirmer l'annulation").click()
            expect(page.locator("#message")).to_have_text("Rendez-vous annulé")
            cancellation = table.locator("tbody tr").filter(has_text="annulation")
            expect(cancellation).to_have_class("failed", timeout=20000)
            expect(cancellation).to_contain_text("échec : IsADirectoryError — prévenir le patient")
            expect(page.locator("#call-messages-failed")).to_contain_text("appelez-le")
            reminder = table.locator("tbody tr").filter(has_text="rappel")
            if reminder.count():  # none when its time fell in a night it could not be moved before
                expect(reminder.locator("td").nth(3)).to_have_text("retiré")
            _accessible(page, "call-messages-failed")
        finally:
            sink.rmdir()
            aside.rename(sink)
        browser.close()
    call = httpx.get(f"{base}/v1/calls/{call_id}", headers={"Authorization": f"Bearer {regulator}"}).json()
    assert [m["state"] for m in call["messages"] if m["kind"] == "cancellation"] == ["failed"]
