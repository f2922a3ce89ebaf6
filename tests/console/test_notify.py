"""The operator asks the patient whether he agrees to be told of his appointment, and how, on the call form; a
landline with SMS is refused at once on the phone field; the slot is booked from the console, and the served app's
sender puts the confirmation in its SMS sink, in the territory's time, with the cancel link."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.console.helpers import ARGS, CHROMIUM, _token
from tests.support.factories import new_rpps
from tests.support.serving import served

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("SNP_REQUIRE_BROWSER"),
                                 reason="Chromium is installed by `make test`")]


@pytest.fixture(scope="module")
def sink(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sms") / "sms.jsonl"


@pytest.fixture(scope="module")
def base(database_url: str, sink: Path) -> Iterator[str]:
    """An app of its own: its sender writes each SMS to the sink (SNP_SMS_SINK), every 0.2 s."""
    with served(database_url, {"SNP_SMS_SINK": str(sink), "SNP_NOTICE_SECONDS": "0.2"}) as url:
        yield url


def _sms(sink: Path) -> list[dict]:
    return [json.loads(line) for line in sink.read_text().splitlines()] if sink.exists() else []


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
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris").new_page()
        page.goto(base + "/console/")
        page.fill("#token", _token("operator", sub="arm-1"))
        page.click("#session button[type=submit]")
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

    deadline = time.monotonic() + 15
    while not _sms(sink) and time.monotonic() < deadline:
        time.sleep(0.2)
    sent = _sms(sink)
    assert len(sent) == 1 and sent[0]["to"] == "+33601020304"
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
