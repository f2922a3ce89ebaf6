"""The doctor's answer by a signed link: the coordinator gets it in the proposal's answer; a GET shows what the doctor
needs to decide (publics, postcode, priority — never the patient's name) and changes nothing; a POST accepts or
refuses through the same path as the API (capacity taken, other proposals withdrawn), once; an altered, expired or
other kind of link is a French 404 page."""

from __future__ import annotations

import datetime as dt
import uuid

from app.mt import links
from app.notices import links as cancel_links
from tests.mt.helpers import doctor, propose, request

YEAR = dt.date.today().year


async def _proposed(client, auth, **kw):
    d = await doctor(client, auth, per_month=kw.pop("per_month", 2))
    coordinator = auth("coordinator")
    patient = await request(client, coordinator, family_name="Renard", given_name="Odile", birth_year=YEAR - 74,
                            postcode="36000", publics=["ald"], **kw)
    proposal = await propose(client, coordinator, patient["id"], d["id"])
    return d, coordinator, patient, proposal


class TestTheLinkOfAProposal:
    async def test_the_coordinator_gets_a_link_naming_nothing_of_the_patient(self, client, auth, settings):
        _, _, patient, proposal = await _proposed(client, auth)
        link = proposal["answer_link"]
        assert link["path"] == links.PATH + link["token"] and link["url"].endswith(link["path"])
        assert links.proposal_of(settings.link_secret, link["token"], dt.datetime.now(dt.UTC)) == \
            uuid.UUID(proposal["id"])
        assert patient["id"] not in link["token"] and "Renard" not in link["url"] and "36000" not in link["url"]
        expires = dt.datetime.fromisoformat(link["expires_at"])
        assert dt.timedelta(days=13) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=14)

    async def test_get_shows_the_proposal_without_the_name_and_changes_nothing(self, client, auth):
        d, coordinator, patient, proposal = await _proposed(client, auth)
        for _ in range(3):  # a mail scanner, a preview, the doctor
            page = await client.get(proposal["answer_link"]["path"])
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            assert 'lang="fr"' in page.text and "<script" not in page.text and 'method="post"' in page.text
            assert "36000" in page.text and "74 ans" in page.text and "ALD" in page.text and "haute" in page.text
            assert "Renard" not in page.text and "Odile" not in page.text and "0611223344" not in page.text
            assert page.headers["cache-control"] == "no-store"
        read = (await client.get(f"/v1/mt-requests/{patient['id']}", headers=coordinator)).json()
        assert read["state"] == "proposed" and read["proposals"][0]["state"] == "pending"

    async def test_accepting_by_the_link_is_the_apis_acceptance_and_is_single_use(self, client, auth):
        d, coordinator, patient, proposal = await _proposed(client, auth)
        other = await doctor(client, auth, family_name="Autre")
        second = await propose(client, coordinator, patient["id"], other["id"])
        path = proposal["answer_link"]["path"]
        accepted = await client.post(path, data={"answer": "accept"})
        assert accepted.status_code == 200 and "Patient accepté" in accepted.text, accepted.text
        read = (await client.get(f"/v1/mt-requests/{patient['id']}", headers=coordinator)).json()
        assert (read["state"], read["practitioner_id"]) == ("accepted", d["id"])
        assert {p["id"]: p["state"] for p in read["proposals"]} == {proposal["id"]: "accepted",
                                                                     second["id"]: "withdrawn"}
        mine = (await client.get("/v1/practitioners/me/new-patients", headers=d["headers"])).json()
        assert mine["taken_this_month"] == 1
        again = await client.post(path, data={"answer": "accept"})
        assert again.status_code == 200 and "déjà acceptée" in again.text
        late = await client.post(second["answer_link"]["path"], data={"answer": "accept"})
        assert late.status_code == 200 and "déjà retirée" in late.text
        audit = (await client.get("/v1/audit", headers=auth("admin", []),
                                  params={"action": "mt_proposal.accepted"})).json()
        assert any(e["detail"]["proposal_id"] == proposal["id"] and e["actor_role"] == "effector" for e in audit)

    async def test_refusing_needs_a_reason_of_the_list_and_puts_the_patient_back_waiting(self, client, auth):
        _, coordinator, patient, proposal = await _proposed(client, auth)
        path = proposal["answer_link"]["path"]
        for form in ({"answer": "refuse"}, {"answer": "refuse", "reason": "bored"}, {}, {"answer": "maybe"}):
            asked = await client.post(path, data=form)
            assert asked.status_code == 422 and 'method="post"' in asked.text, form
        refused = await client.post(path, data={"answer": "refuse", "reason": "too_far"})
        assert refused.status_code == 200 and "Refus enregistré" in refused.text
        read = (await client.get(f"/v1/mt-requests/{patient['id']}", headers=coordinator)).json()
        assert read["state"] == "waiting"
        assert (read["proposals"][0]["state"], read["proposals"][0]["refusal_reason"]) == ("refused", "too_far")

    async def test_a_doctor_without_capacity_left_is_told_so(self, client, auth):
        d, coordinator, _, proposal = await _proposed(client, auth, per_month=1)
        other = await request(client, coordinator)
        first = await propose(client, coordinator, other["id"], d["id"])
        assert (await client.post(first["answer_link"]["path"], data={"answer": "accept"})).status_code == 200
        full = await client.post(proposal["answer_link"]["path"], data={"answer": "accept"})
        assert full.status_code == 409 and "déjà accepté ce mois-ci" in full.text

    async def test_an_altered_expired_or_foreign_link_is_a_french_404(self, client, auth, settings):
        _, _, _, proposal = await _proposed(client, auth)
        token = proposal["answer_link"]["token"]
        past = links.sign(settings.link_secret, uuid.UUID(proposal["id"]),
                          dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        foreign = cancel_links.sign(settings.link_secret, uuid.UUID(proposal["id"]),
                                    dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
        altered = token[:-1] + ("A" if token[-1] != "A" else "B")
        for bad in (altered, past, foreign, "nothing"):
            for method in ("GET", "POST"):
                page = await client.request(method, links.PATH + bad, data={"answer": "accept"}
                                            if method == "POST" else None)
                assert page.status_code == 404 and "Lien expiré ou inconnu" in page.text, (bad, method)
