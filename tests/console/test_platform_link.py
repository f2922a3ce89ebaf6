"""The national SAS platform's booking link (issue: a regulator on the platform can book our slot): every
Slot names our booking page in its doctor's agenda; the platform appends origin=sas; the regulator signs in
through Pro Santé Connect, is matched by his whole national id, accepts our terms at his first sign-in, and
books — or, when the slot was taken meanwhile, is told so and offered the doctor's next slots. A regulator
account the platform registered has its rights only in a session opened from the platform."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from tests.console.helpers import ARGS, CHROMIUM, _accessible, _token
from tests.support.factories import new_rpps
from tests.support.identity_provider import Card, Provider, running_provider
from tests.support.serving import served

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("SNP_REQUIRE_BROWSER"),
    reason="Chromium is installed by `make test` (Debian package)")]

PUBLIC = "https://snp.example.test"
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with running_provider() as p:
        yield p


@pytest.fixture(scope="module")
def base(database_url: str, provider: Provider) -> Iterator[str]:
    # Development mode beside the provider: the tests' own tokens build the world, the provider's sign in.
    with served(database_url, {**provider.environment(), "SNP_PUBLIC_URL": PUBLIC}) as url:
        provider.redirect_uris.add(url + "/console/")
        yield url


def _admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {_token('admin', ())}"}


def _agenda(base: str, slots: int = 3, days: int = 70) -> tuple[dict[str, Any], list[str]]:
    """A doctor with ``slots`` slots an hour apart on a day of their own."""
    with httpx.Client(base_url=base, headers=_admin()) as c:
        doctor = c.post("/v1/practitioners", json={"rpps": new_rpps(), "family_name": "Lemoine", "given_name": "Hugo",
                                                   "territory_codes": ["36"]})
        assert doctor.status_code == 201, doctor.text
        site = c.post("/v1/sites", json={"name": "MSP du Blanc", "kind": "msp", "address": "2 rue de la Gare",
                                         "postcode": "36300", "lat": 46.63, "lon": 1.06, "territory_code": "36"})
        assert site.status_code == 201, site.text
        day = dt.datetime.now(PARIS).date() + dt.timedelta(days=days)
        ids = []
        for n in range(slots):
            start = dt.datetime.combine(day, dt.time(9 + n), PARIS)
            made = c.post("/v1/slots", json={"practitioner_id": doctor.json()["id"], "site_id": site.json()["id"],
                                             "mode": "in_person", "start": start.isoformat(),
                                             "end": (start + dt.timedelta(minutes=20)).isoformat()})
            assert made.status_code == 201, made.text
            ids.append(made.json()["id"])
    return doctor.json(), ids


def _book(base: str, slot_id: str) -> None:
    operator = {"Authorization": f"Bearer {_token('operator')}"}
    call = httpx.post(f"{base}/v1/calls", headers=operator, json={"territory_code": "36", "channel": "15",
                                                                  "patient": {"phone": "0611223344"}})
    assert call.status_code == 201, call.text
    booked = httpx.post(f"{base}/v1/bookings", headers=operator,
                        json={"slot_id": slot_id, "call_id": call.json()["id"]})
    assert booked.status_code == 201, booked.text


def _platform_regulator(database_url: str, national_id: str, name: str = "Sébastien Loridon") -> str:
    """A regulator account as the national platform registers it (INT_R02): known by his national id as given."""
    async def insert() -> str:
        engine = create_async_engine(database_url)
        async with engine.begin() as conn:
            user_id = await conn.scalar(text(
                "INSERT INTO users (national_id, display_name, role, territories, provisioned_by) "
                "VALUES (:nid, :name, 'regulator', '{36}', 'ptf-sas') RETURNING id"),
                {"nid": national_id, "name": name})
        await engine.dispose()
        return str(user_id)
    return asyncio.run(insert())


def _sign_in(client: httpx.Client, base: str, provider: Provider, card: Card, origin: str | None) -> httpx.Response:
    """The console's sign-in, as the browser does it: PKCE at the provider, the code exchanged by the server."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    provider.card = card
    redirect = base + "/console/"
    sent = httpx.get(provider.base + "/auth", params={
        "response_type": "code", "client_id": "snp-console", "redirect_uri": redirect, "scope": "openid",
        "state": "s", "code_challenge": challenge, "code_challenge_method": "S256"})
    assert sent.status_code == 302, sent.text
    code = parse_qs(urlparse(sent.headers["location"]).query)["code"][0]
    body = {"code": code, "code_verifier": verifier, "redirect_uri": redirect} | ({"origin": origin} if origin else {})
    return client.post(f"{base}/v1/auth/token", json=body)


def test_every_slot_names_its_booking_page_in_its_doctors_agenda(base: str) -> None:
    doctor, (slot, *_) = _agenda(base, slots=1, days=71)
    platform = {"Authorization": f"Bearer {_token('platform', ())}", "Accept": "application/fhir+json"}
    read = httpx.get(f"{base}/fhir/Slot/{slot}", headers=platform)
    assert read.status_code == 200, read.text
    page = f"{PUBLIC}/console/agenda/{doctor['id']}/{slot}"
    assert read.json()["comment"] == page  # a path without a query: the platform appends ?origin=sas
    searched = httpx.get(f"{base}/fhir/Slot", headers=platform, params={
        "status": "free", "schedule.actor:Practitioner.identifier": f"urn:oid:1.2.250.1.71.4.2.1|8{doctor['rpps']}"})
    assert [e["resource"]["comment"] for e in searched.json()["entry"] if e["resource"]["resourceType"] == "Slot"] \
        == [page]
    opened = httpx.get(base + page.removeprefix(PUBLIC) + "?origin=sas")
    assert opened.status_code == 200 and "/console/console.js" in opened.text
    assert opened.headers["content-security-policy"].startswith("default-src 'self'")
    assert httpx.get(f"{base}/console/agenda/{doctor['id']}/not-a-slot").status_code == 404


def test_the_agenda_says_whether_the_slot_is_still_free_and_offers_the_doctors_next_slots(base: str) -> None:
    doctor, (first, second, third) = _agenda(base, days=72)
    regulator = {"Authorization": f"Bearer {_token('regulator')}"}
    agenda = httpx.get(f"{base}/v1/slots/{first}/agenda", headers=regulator)
    assert agenda.status_code == 200, agenda.text
    body = agenda.json()
    assert body["chosen"]["free"] is True and body["slot"]["id"] == first
    assert body["practitioner"]["id"] == doctor["id"] and body["call_territory_code"] == "36"
    assert [s["id"] for s in body["next_slots"]] == [second, third]

    _book(base, first)
    taken = httpx.get(f"{base}/v1/slots/{first}/agenda", headers=regulator).json()
    assert taken["chosen"]["free"] is False and taken["slot"] is None
    assert [s["id"] for s in taken["next_slots"]] == [second, third]
    # Out of his territories, the slot does not exist for him; an ED nurse does not book from the platform.
    elsewhere = httpx.get(f"{base}/v1/slots/{first}/agenda",
                          headers={"Authorization": f"Bearer {_token('regulator', ('18',))}"})
    assert elsewhere.status_code == 404 and elsewhere.json()["field"] == "slot_id"
    nurse = httpx.get(f"{base}/v1/slots/{first}/agenda", headers={"Authorization": f"Bearer {_token('urgences')}"})
    assert nurse.status_code == 403
    # A slot withdrawn, or veiled from the regulation, is not shown through the link either.
    with httpx.Client(base_url=base, headers=_admin()) as c:
        withdrawn = c.delete(f"/v1/slots/{third}")
        assert withdrawn.status_code == 200, withdrawn.text
        start = dt.datetime.fromisoformat(body["next_slots"][-1]["start"]) + dt.timedelta(hours=1)
        veiled = c.post("/v1/slots", json={"practitioner_id": doctor["id"], "site_id": body["slot"]["site"]["id"],
                                           "mode": "in_person", "start": start.isoformat(), "bookable_by": ["urgences"],
                                           "end": (start + dt.timedelta(minutes=20)).isoformat()})
        assert veiled.status_code == 201, veiled.text
    for hidden in (third, veiled.json()["id"]):
        refused = httpx.get(f"{base}/v1/slots/{hidden}/agenda", headers=regulator)
        assert refused.status_code == 404, refused.text


def test_a_platform_regulator_has_his_rights_only_from_the_platform_and_after_the_terms(
    base: str, provider: Provider, database_url: str
) -> None:
    national_id = f"3456780581/{secrets.randbelow(10**8):08d}"  # not 8 + RPPS: matched whole, as given
    _platform_regulator(database_url, national_id)
    card = Card(national_id=national_id)
    _, (slot, *_) = _agenda(base, slots=1, days=73)
    with httpx.Client() as browser:
        outside = _sign_in(browser, base, provider, card, origin=None)
        assert outside.status_code == 403, outside.text
        assert outside.json()["error"] == "OutsidePlatform" and outside.json()["field"] == "origin"

        signed = _sign_in(browser, base, provider, card, origin="sas")
        assert signed.status_code == 200, signed.text
        token = {"Authorization": f"Bearer {signed.json()['access_token']}"}
        me = httpx.get(f"{base}/v1/me", headers=token).json()
        assert me["role"] == "regulator" and me["display_name"] == "Sébastien Loridon"
        terms = httpx.get(f"{base}/v1/auth/terms").json()
        assert me["terms_to_accept"] == terms["version"] and "Conditions générales" in terms["text"]
        before = httpx.get(f"{base}/v1/slots/{slot}/agenda", headers=token)
        assert before.status_code == 403 and before.json()["error"] == "TermsNotAccepted"
        for path in ("/v1/territories", "/v1/territories/36"):  # nothing but who he is and the terms
            assert httpx.get(base + path, headers=token).json()["error"] == "TermsNotAccepted"
        stale = httpx.post(f"{base}/v1/auth/terms", headers=token, json={"version": "0" * 16})
        assert stale.status_code == 409 and stale.json()["field"] == "version"
        accepted = httpx.post(f"{base}/v1/auth/terms", headers=token, json={"version": terms["version"]})
        assert accepted.status_code == 200, accepted.text
        assert httpx.get(f"{base}/v1/me", headers=token).json()["terms_to_accept"] is None
        assert httpx.get(f"{base}/v1/slots/{slot}/agenda", headers=token).status_code == 200

        # The session's renewal stays a session opened from the platform.
        renewed = browser.post(f"{base}/v1/auth/refresh")
        assert renewed.status_code == 200, renewed.text
        again = {"Authorization": f"Bearer {renewed.json()['access_token']}"}
        assert again != token
        assert httpx.get(f"{base}/v1/slots/{slot}/agenda", headers=again).status_code == 200

    # A token of the same card, not from the platform: nothing, even a moment later.
    plain = {"Authorization": f"Bearer {provider.token(card)}"}
    refused = httpx.get(f"{base}/v1/slots/{slot}/agenda", headers=plain)
    assert refused.status_code == 403 and refused.json()["error"] == "OutsidePlatform"


def test_a_regulator_from_the_platform_books_the_slot_or_the_next_one_when_it_was_taken(
    base: str, provider: Provider, database_url: str
) -> None:
    from playwright.sync_api import expect, sync_playwright

    national_id = "8" + new_rpps()
    _platform_regulator(database_url, national_id, name="Jules Marius")
    doctor, (first, second, _) = _agenda(base, days=74)
    link = f"{base}/console/agenda/{doctor['id']}/{first}?origin=sas"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.goto(link)
        expect(page.locator("#agenda-signin")).to_be_visible()
        provider.card = Card(national_id=national_id)
        page.locator("#provider-sign-in").click()
        # First sign-in: the terms, and nothing else, until they are accepted.
        expect(page.locator("#terms")).to_be_visible()
        expect(page.locator("#terms-text")).to_contain_text("secret médical")
        _accessible(page, "terms")
        page.locator("#terms-accept [name=accept]").check()
        page.locator("#terms-accept button[type=submit]").click()
        expect(page.locator("#agenda-doctor")).to_have_text("Dr Lemoine Hugo")
        expect(page.locator("#agenda-taken")).to_be_hidden()
        _accessible(page, "agenda")

        _book(base, first)  # another regulator is quicker
        form = page.locator("#agenda-patient")
        form.locator("[name=family_name]").fill("Bernard")
        form.locator("[name=given_name]").fill("Lucie")
        form.locator("[name=birth_year]").fill("1961")
        form.locator("[name=phone]").fill("0254112233")
        form.locator("[name=samu_case_id]").fill("SAMU36-2026-0042")
        form.locator("button[type=submit]").click()
        expect(page.locator("#agenda-taken")).to_contain_text("vient d'être pris")
        expect(form).to_be_hidden()
        page.locator("#agenda-next li").first.get_by_role("button", name="Choisir ce créneau").click()
        expect(form).to_be_visible()
        expect(form.locator("[name=family_name]")).to_have_value("Bernard")  # nothing typed is lost
        form.locator("button[type=submit]").click()
        expect(page.locator("#agenda-done")).to_contain_text("Bernard Lucie est attendu(e) par le Dr Lemoine Hugo")
        assert page.url == base + "/console/"
        browser.close()

    regulator = {"Authorization": f"Bearer {_token('regulator')}"}
    agenda = httpx.get(f"{base}/v1/slots/{second}/agenda", headers=regulator).json()
    assert agenda["chosen"]["free"] is False  # booked by the platform's regulator

    async def booked() -> list[Any]:
        engine = create_async_engine(database_url)
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT b.slot_id, c.samu_case_id, c.channel, b.created_by "
                "FROM bookings b JOIN calls c ON c.id = b.call_id "
                "WHERE b.slot_id = ANY(CAST(:ids AS uuid[])) AND b.status = 'active' ORDER BY c.received_at"),
                {"ids": [first, second]})).all()
        await engine.dispose()
        return list(rows)
    rows = asyncio.run(booked())
    assert [(str(r[0]), r[1], r[2]) for r in rows] == [(first, None, "15"), (second, "SAMU36-2026-0042", "15")]
    assert rows[1][3] == provider.card.subject  # booked by him, named as his token names him

    async def declared() -> Any:
        from app.outbox import appointments

        engine = create_async_engine(database_url)
        async with async_sessionmaker(engine)() as session:
            booking = await session.scalar(text("SELECT id FROM bookings WHERE slot_id = :s AND status = 'active'"),
                                           {"s": second})
            told = appointments.told((await appointments.rows(session, [booking]))[booking], appointments.CREATED)
        await engine.dispose()
        return told
    # Declared back to the platform with the operator it knows: his national id, as it gave it.
    told = asyncio.run(declared())
    assert (told.operator_id, told.operator_display_name) == (national_id, "Jules Marius")
