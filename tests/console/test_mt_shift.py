"""The coordinator's shift with the patients without a médecin traitant, in real Chromium windows: a doctor
declares in his view that he takes new patients; an operator saves a call with "Le patient n'a pas de médecin
traitant" ticked, and the patient is on the CPTS's waiting list; the coordinator sees him there by priority with
its reasons, the doctors on the map and in the list beside it, the candidates nearest the patient first,
proposes the doctor the patient chose; the doctor accepts in his view and reads the patient's phone; the
coordinator marks the médecin traitant found, and the count of found requests in his view moves by one. Every
write button is double-clicked; the database holds each write once."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.console.helpers import ARGS, CHROMIUM, SCREENSHOTS, _accessible, _token
from tests.console.helpers import committed_rows as _rows
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
            def doctor(family: str, given: str, site: dict) -> dict:
                made = c.post("/v1/practitioners", json={"rpps": new_rpps(), "family_name": family, "given_name": given,
                              "territory_codes": ["36"], "site_ids": [site["id"]]})
                assert made.status_code == 201, made.text
                return made.json()

            def site(name: str, address: str, postcode: str, lat: float, lon: float) -> dict:
                made = c.post("/v1/sites", json={"name": name, "kind": "msp", "address": address, "postcode": postcode,
                              "lat": lat, "lon": lon, "territory_code": "36"})
                assert made.status_code == 201, made.text
                return made.json()

            blanc = site("Cabinet de la Creuse", "8 rue des Tanneries", "36300", 46.6339, 1.0628)
            chateauroux = site("MSP Saint-Jean", "2 rue Victor Hugo", "36000", 46.8103, 1.6913)
            roux, lefevre = doctor("Roux", "Marc", blanc), doctor("Lefèvre", "Anne", chateauroux)
        # The farther doctor takes new patients too: the coordinator has a choice, the nearer first.
        far = {"Authorization": f"Bearer {_token('effector', practitioner_id=lefevre['id'])}"}
        with httpx.Client(base_url=base, headers=far) as c:
            offer = c.put("/v1/practitioners/me/new-patients", json={"accepting": True, "per_month": 3,
                          "publics": ["any"], "site_ids": [chateauroux["id"]]})
            assert offer.status_code == 200, offer.text
        yield {"base": base, "url": database_url, "roux": roux, "lefevre": lefevre, "blanc": blanc,
               "chateauroux": chateauroux}


def test_the_coordinators_shift(world) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, url = world["base"], world["url"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)

        def window(token: str, width: int = 1440):
            page = browser.new_context(viewport={"width": width, "height": 900}, timezone_id="Europe/Paris",
                                       locale="fr-FR").new_page()
            page.goto(base + "/console/")
            page.fill("#token", token)
            page.fill("#territory", "36")
            page.click("#session button[type=submit]")
            expect(page.locator("#whoami")).not_to_be_empty()
            return page

        coordinator = window(_token("coordinator", sub="coord-lea"))
        asked: list[str] = []  # what the coordinator's view asks the API
        coordinator.on("request", lambda r: asked.append(r.url) if "/v1/" in r.url else None)
        expect(coordinator.locator("#tab-mt")).to_be_visible()
        expect(coordinator.locator('nav button[data-tab="calls"]')).to_be_hidden()
        expect(coordinator.locator("#mt-count-found")).not_to_have_text("—")
        found_before = int(coordinator.locator("#mt-count-found").inner_text())

        # The doctor says, in his view, that he takes new patients: two a month, any public, at his practice.
        doctor = window(_token("effector", practitioner_id=world["roux"]["id"]), width=375)
        offer = doctor.locator("#my-new-patients")
        expect(offer.locator("#my-np-load")).to_have_text("Vous ne prenez pas de nouveaux patients pour l'instant.")
        offer.get_by_label("J'accepte de nouveaux patients comme médecin traitant").check()
        offer.get_by_label("Combien par mois, au plus").fill("2")
        offer.get_by_label("Tout public").check()
        offer.get_by_label("Cabinet de la Creuse, 36300").check()
        offer.get_by_role("button", name="Enregistrer mon offre").dblclick()
        expect(doctor.locator("#message")).to_have_text(
            "Offre enregistrée : la coordination peut vous proposer des patients")
        expect(offer.locator("#my-np-load")).to_contain_text("2 place(s) restante(s)")

        # The operator saves a call with the tick: the patient is on the waiting list, copied from the call.
        operator = window(_token("operator", sub="osnp-anna"))
        form = operator.locator("#new-call")
        form.locator("[name=family_name]").fill("Quennec")
        form.locator("[name=given_name]").fill("Odile")
        form.locator("[name=birth_year]").fill(str(dt.date.today().year - 58))
        form.locator("[name=phone]").fill("06 47 38 29 10")
        form.locator("[name=postcode]").fill("36300")
        form.locator("[name=reason]").fill("Renouvellement de traitement, plus de médecin depuis un départ en retraite")
        expect(form.locator("#no-mt-publics")).to_be_hidden()
        form.get_by_label("Le patient n'a pas de médecin traitant").check()
        form.get_by_label("ALD").check()
        form.get_by_role("button", name="Enregistrer l'appel").click()
        expect(operator.locator("#message")).to_have_text(
            "Appel enregistré ; patient inscrit sur la liste des patients sans médecin traitant")
        call_id = operator.evaluate("state.call.id")
        # The next call starts clean.
        expect(form.get_by_label("Le patient n'a pas de médecin traitant")).not_to_be_checked()

        # The coordinator sees him on the list by priority, with its reasons (no name on the list).
        coordinator.locator("#mt-filter").get_by_role("button", name="Afficher").click()
        request_id = _rows(url, "SELECT id FROM mt_requests WHERE call_id = :c", c=call_id)[0][0]
        line = coordinator.locator(f'#mt-list tr[data-request="{request_id}"]')
        expect(line).to_contain_text("Haute (ALD, au sortir d'une consultation SNP)")
        expect(line).to_contain_text("OQ, 58 ans, 36300")
        expect(line).not_to_contain_text("Quennec")
        waiting = int(coordinator.locator("#mt-count-waiting").inner_text())
        assert waiting >= 1
        # The map and the list beside it: both doctors, at their sites.
        doctors = coordinator.locator("#mt-doctors")
        expect(doctors).to_contain_text("Dr Marc Roux")
        expect(doctors).to_contain_text("Dr Anne Lefèvre")
        for where in (world["blanc"], world["chateauroux"]):
            expect(coordinator.locator(f'#mt-map circle[data-site="{where["id"]}"]')).to_have_count(1)

        # His record (the phone, to call him), the candidates nearest first; the doctor he chose, proposed.
        line.get_by_role("button", name="Ouvrir").click()
        expect(coordinator.locator("#mt-detail-title")).to_have_text("Demande de Quennec Odile")
        expect(coordinator.locator("#mt-detail-title")).to_be_focused()
        expect(coordinator.locator("#mt-info")).to_contain_text("0647382910")
        candidates = coordinator.locator("#mt-candidates tbody tr")
        expect(candidates.first).to_contain_text("Dr Marc Roux")
        expect(candidates.nth(1)).to_contain_text("Dr Anne Lefèvre")  # Châteauroux is some 50 km from Le Blanc
        expect(coordinator.locator(f'#mt-map circle.candidate[data-site="{world["blanc"]["id"]}"]')).to_have_count(1)
        # The patient on the map, at the centroid of his postcode, and in the list beside it.
        expect(coordinator.locator("#mt-map rect.patient title")).to_have_text(
            "Patient de la demande ouverte : centre du code postal 36300")
        expect(coordinator.locator("#mt-doctors li.patient")).to_contain_text("centre du code postal 36300")
        coordinator.get_by_label("Choisir Dr Marc Roux").check()
        coordinator.get_by_label("Le patient a choisi ce médecin").check()
        _accessible(coordinator, "mt-coordinator")
        coordinator.locator("#mt-propose").get_by_role("button", name="Envoyer la proposition").dblclick()
        expect(coordinator.locator("#message")).to_have_text("Proposition envoyée au Dr Marc Roux")
        expect(coordinator.locator("#mt-proposals")).to_contain_text(
            "Dr Marc Roux — en attente de la réponse du médecin — Cabinet de la Creuse")
        expect(coordinator.locator("#mt-info")).to_contain_text("Proposée à un médecin")

        # The doctor accepts, in his view, and reads the patient's name and phone.
        doctor.locator('nav button[data-tab="mine"]').click()
        proposal = doctor.locator("#my-mt-proposals li").filter(has_text="OQ, 58 ans, 36300")
        proposal.get_by_role("button", name="Accepter ce patient").dblclick()
        expect(doctor.locator("#message")).to_have_text("Patient accepté : la coordination est prévenue")
        expect(offer.locator("#my-np-load")).to_contain_text("1 place(s) restante(s)")
        accepted = doctor.locator("#my-mt-proposals li[data-state=accepted]")
        accepted.get_by_role("button", name="Coordonnées du patient").click()
        expect(accepted).to_contain_text("Quennec Odile, tél. 0647382910")
        _accessible(doctor, "mt-doctor")
        doctor.screenshot(path=str(SCREENSHOTS / "snp-mt-doctor.png"), full_page=True)

        # The coordinator confirms the first consultation: found, and the count of found moves by one.
        line.get_by_role("button", name="Ouvrir").click()
        expect(coordinator.locator("#mt-info")).to_contain_text("Acceptée par un médecin")
        expect(coordinator.locator("#mt-info")).to_contain_text("Dr Marc Roux, Cabinet de la Creuse")
        expect(coordinator.locator("#mt-map rect.patient")).to_have_count(1)  # no longer open: still placed
        expect(coordinator.locator("#mt-proposals")).to_contain_text("acceptée")
        expect(coordinator.locator("#mt-propose")).to_be_hidden()
        coordinator.locator("#mt-found [name=first_visit_on]").fill(dt.date.today().isoformat())
        coordinator.locator("#mt-found").get_by_role("button", name="Médecin traitant trouvé").dblclick()
        expect(coordinator.locator("#message")).to_have_text("Médecin traitant trouvé")
        expect(coordinator.locator("#mt-count-found")).to_have_text(str(found_before + 1))
        expect(coordinator.locator("#mt-info")).to_contain_text("Médecin traitant trouvé")
        coordinator.screenshot(path=str(SCREENSHOTS / "snp-mt-coordinator.png"), full_page=True)
        browser.close()
    # The counts came by their own route (numbers only), the doctors' names with the record: no paging through
    # every found request, no lookup of a doctor by his id.
    assert any("/v1/mt-requests/counts?" in u for u in asked)
    assert not any("state=found" in u or "/v1/practitioners/" in u for u in asked), asked

    # Each double-clicked write is in the database once; the request came from the call, by the regulation.
    assert _rows(url, "SELECT source, state, practitioner_id::text, created_by FROM mt_requests WHERE id = :r",
                 r=request_id) == [("regulation", "found", world["roux"]["id"], "osnp-anna")]
    assert _rows(url, "SELECT state, count(*) FROM mt_proposals WHERE request_id = :r GROUP BY state",
                 r=request_id) == [("accepted", 1)]
    assert _rows(url, "SELECT count(*) FROM mt_requests WHERE call_id = :c", c=call_id) == [(1,)]
    assert _rows(url, "SELECT taken FROM mt_capacity WHERE practitioner_id = :p", p=world["roux"]["id"]) == [(1,)]


def test_a_priority_set_a_refusal_read_and_a_request_closed(world) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, url = world["base"], world["url"]
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {_token('coordinator')}"}) as c:
        made = c.post("/v1/mt-requests", json={"territory_code": "36", "source": "coordinator", "patient": {
            "family_name": "Lemaire", "given_name": "Paul", "birth_year": dt.date.today().year - 35,
            "phone": "0611223344", "postcode": "36000"}})
        assert made.status_code == 201, made.text
        request_id = made.json()["id"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)

        def window(token: str):
            page = browser.new_context(viewport={"width": 1024, "height": 900}, timezone_id="Europe/Paris",
                                       locale="fr-FR").new_page()
            page.goto(base + "/console/")
            page.fill("#token", token)
            page.fill("#territory", "36")
            page.click("#session button[type=submit]")
            expect(page.locator("#whoami")).not_to_be_empty()
            return page

        coordinator = window(_token("coordinator", sub="coord-lea"))
        line = coordinator.locator(f'#mt-list tr[data-request="{request_id}"]')
        expect(line).to_contain_text("Normale")
        line.get_by_role("button", name="Ouvrir").click()

        # The priority, set with a reason: the computed one stays beside it.
        adjust = coordinator.locator("#mt-priority")
        adjust.get_by_label("Priorité").select_option("high")
        adjust.get_by_label("Raison (tracée)").fill("Sortie d'hospitalisation, traitement à suivre")
        adjust.get_by_role("button", name="Changer la priorité").dblclick()
        expect(coordinator.locator("#message")).to_have_text("Priorité changée : Haute")
        info = coordinator.locator("#mt-info")
        expect(info).to_contain_text("Haute — fixée par la coordination (calculée : Normale)")
        expect(info).to_contain_text("Sortie d'hospitalisation, traitement à suivre (coord-lea)")
        expect(line).to_contain_text("Haute — fixée par la coordination")

        # Proposed to the doctor at Châteauroux, who refuses: too far. The request waits again.
        coordinator.get_by_label("Choisir Dr Anne Lefèvre").check()
        coordinator.get_by_label("Le patient a choisi ce médecin").check()
        coordinator.locator("#mt-propose").get_by_role("button", name="Envoyer la proposition").click()
        expect(coordinator.locator("#message")).to_have_text("Proposition envoyée au Dr Anne Lefèvre")
        doctor = window(_token("effector", practitioner_id=world["lefevre"]["id"]))
        proposal = doctor.locator("#my-mt-proposals li[data-state=pending]").filter(has_text="PL, 35 ans, 36000")
        proposal.get_by_label("Raison du refus").select_option("too_far")
        proposal.get_by_role("button", name="Refuser").dblclick()
        expect(doctor.locator("#message")).to_have_text("Proposition refusée")
        expect(doctor.locator("#my-mt-proposals li[data-state=refused]")).to_contain_text("refusée (trop loin)")

        line.get_by_role("button", name="Ouvrir").click()
        expect(coordinator.locator("#mt-proposals")).to_contain_text("Dr Anne Lefèvre — refusée — raison : trop loin")
        expect(info).to_contain_text("En attente")
        expect(coordinator.get_by_label("Choisir Dr Anne Lefèvre")).to_have_count(0)  # no longer a candidate

        # Unreachable: closed, and nothing more is offered on it.
        close = coordinator.locator("#mt-close")
        close.get_by_label("Raison").select_option("unreachable")
        close.get_by_role("button", name="Clore la demande").dblclick()
        expect(coordinator.locator("#message")).to_have_text("Demande close : patient injoignable")
        expect(info).to_contain_text("Close : patient injoignable")
        for form in ("#mt-propose", "#mt-priority", "#mt-close", "#mt-found"):
            expect(coordinator.locator(form)).to_be_hidden()
        expect(line).to_have_count(0)  # off the list of requests in progress
        browser.close()

    assert _rows(url, "SELECT state, closed_reason, priority, priority_computed FROM mt_requests WHERE id = :r",
                 r=request_id) == [("closed", "unreachable", "high", "normal")]
    assert _rows(url, "SELECT state, refusal_reason FROM mt_proposals WHERE request_id = :r",
                 r=request_id) == [("refused", "too_far")]
