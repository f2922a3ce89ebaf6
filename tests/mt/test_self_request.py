"""The patient's own request (source self): by the territory's self-referral link, a French form without JavaScript
with the information notice; a phone required; the request waits on the territory's list, sealed; nothing is shown
back but that it is recorded; an altered link is a 404 page; the self-referrals' budget by address holds."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

YEAR = dt.date.today().year


async def _link(client, auth, territory: str = "36") -> str:
    made = await client.post("/v1/referral-links", json={"territory_code": territory}, headers=auth("operator"))
    assert made.status_code == 201, made.text
    return made.json()["path"] + "/mt"


class TestThePatientsOwnRequest:
    async def test_the_form_is_french_without_javascript_with_the_notice(self, client, auth):
        page = await client.get(await _link(client, auth))
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert 'lang="fr"' in page.text and "<script" not in page.text and 'name="phone"' in page.text
        for owed in ("trouver un médecin traitant", "effacées 90 jours", "rectifier", "CNIL"):
            assert owed in page.text, owed

    async def test_a_request_waits_on_the_list_sealed_and_nothing_is_shown_back(self, client, auth, connection):
        path = await _link(client, auth)
        made = await client.post(path, data={"phone": "0611223344", "family_name": "Lebrun", "given_name": "Anne",
                                             "birth_year": str(YEAR - 30), "postcode": "36100",
                                             "publics": ["ald", "pregnancy"]})
        assert made.status_code == 201 and "Votre demande est enregistrée" in made.text
        assert "Lebrun" not in made.text and "0611223344" not in made.text and "36100" not in made.text
        listed = (await client.get("/v1/mt-requests", params={"territory": "36"}, headers=auth("coordinator"))).json()
        mine = [r for r in listed if r["source"] == "self"]
        assert len(mine) == 1 and mine[0]["state"] == "waiting" and mine[0]["priority"] == "high"
        assert mine[0]["publics"] == ["ald", "pregnancy"] and mine[0]["initials"] == "AL"
        read = (await client.get(f"/v1/mt-requests/{mine[0]['id']}", headers=auth("coordinator"))).json()
        assert (read["patient"]["phone"], read["created_by_role"]) == ("0611223344", "patient")
        stored = (await connection.execute(text("SELECT patient_phone, patient_family_name FROM mt_requests "
                                                "WHERE id = :id"), {"id": mine[0]["id"]})).one()
        assert "0611223344" not in stored.patient_phone and "Lebrun" not in stored.patient_family_name
        elsewhere = (await client.get("/v1/mt-requests", headers=auth("coordinator", ["18"]))).json()
        assert all(r["source"] != "self" for r in elsewhere)

    async def test_a_phone_is_required_and_bad_fields_are_named_in_french(self, client, auth):
        path = await _link(client, auth)
        for form, said in (({"family_name": "Lebrun"}, "téléphone est nécessaire"),
                           ({"phone": "12"}, "numéro de téléphone n'est pas valable"),
                           ({"phone": "0611223344", "postcode": "99999"}, "code postal n'est pas valable"),
                           ({"phone": "0611223344", "birth_year": "19x0"}, "année de naissance"),
                           ({"phone": "0611223344", "publics": "cancer"}, "situation")):
            refused = await client.post(path, data=form)
            assert refused.status_code == 422 and said in refused.text and 'name="phone"' in refused.text, form
        assert (await client.get("/v1/mt-requests", headers=auth("coordinator"))).json() == []

    async def test_an_altered_link_is_a_404_page_and_the_budget_by_address_holds(self, client, auth, app):
        path = await _link(client, auth)
        altered = path.replace("/mt", "").rstrip("/")[:-1] + "A/mt"
        for method in ("GET", "POST"):
            page = await client.request(method, altered, data={"phone": "0611223344"} if method == "POST" else None)
            assert page.status_code == 404 and "Lien expiré ou inconnu" in page.text
        app.state.limiter.per_minute["self_referral"] = 3
        statuses = [(await client.post(path, data={"phone": "0611223344"})).status_code for _ in range(5)]
        assert statuses[-1] == 429 and statuses.count(201) <= 3
