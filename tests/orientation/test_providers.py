"""Providers beyond the GP: profession and specialty codes from the ANS nomenclatures, languages,
kinds of site; search filters on them."""

from __future__ import annotations

import datetime as dt

from tests.bookings.helpers import now
from tests.support.factories import create_practitioner, create_site


async def _slot(client, auth, practitioner, site, hours):
    start = now() + dt.timedelta(hours=hours)
    body = {"practitioner_id": practitioner["id"], "site_id": site["id"], "mode": "in_person",
            "start": start.isoformat(), "end": (start + dt.timedelta(minutes=20)).isoformat()}
    response = await client.post("/v1/slots", json=body, headers=auth("admin", []))
    assert response.status_code == 201, response.text
    return response.json()["id"]


class TestProviders:
    async def test_codes_and_labels_from_the_nomenclatures(self, client, auth):
        admin = auth("admin", [])
        gp = await create_practitioner(client, admin)
        assert (gp["profession_code"], gp["profession"]) == ("10", "Médecin")
        assert (gp["specialty_code"], gp["specialty_label"]) == ("SM54", "Médecine générale (SM)")
        assert gp["languages"] == ["fr"]
        ipa = await create_practitioner(client, admin, specialty="Infirmière en pratique avancée",
                                        profession_code="60", specialty_code="SI01", languages=["fr", "en"])
        assert (ipa["profession"], ipa["specialty_code"], ipa["languages"]) == ("Infirmier", "SI01", ["fr", "en"])
        assert ipa["specialty_label"].startswith("Infirmier(ère) en pratique avancée")
        for fields, field in (({"profession_code": "11"}, "profession_code"),
                              ({"profession_code": "93"}, "profession_code"),
                              ({"specialty_code": "SM99"}, "specialty_code"),
                              ({"specialty_code": "SP01"}, "specialty_code"),
                              ({"languages": ["fra"]}, "languages.0")):
            response = await client.post("/v1/practitioners", headers=admin, json={
                "rpps": "10000000017", "family_name": "X", "given_name": "Y", "territory_codes": ["36"], **fields})
            assert response.status_code == 422 and response.json()["field"] == field, (fields, response.text)

    async def test_search_filters_on_profession_specialty_language_and_site_kind(self, client, auth):
        admin = auth("admin", [])
        gp = await create_practitioner(client, admin)
        midwife = await create_practitioner(client, admin, specialty="Sage-femme", profession_code="50",
                                            languages=["fr", "ar"])
        msp = await create_site(client, admin)
        sos = await create_site(client, admin, kind="sos_medecins", name="SOS Médecins Châteauroux")
        gp_slot = await _slot(client, auth, gp, sos, 2)
        midwife_slot = await _slot(client, auth, midwife, msp, 3)
        operator = auth("operator", ["36"])

        async def found(**params):
            response = await client.get("/v1/slots/search", params={"territory": "36", **params}, headers=operator)
            assert response.status_code == 200, response.text
            return [s["id"] for s in response.json()["items"]]

        assert await found(profession="50") == [midwife_slot]
        assert await found(specialty="SM54") == [gp_slot]
        assert await found(language="ar") == [midwife_slot]
        assert await found(site_kind="sos_medecins") == [gp_slot]
        assert set(await found()) == {gp_slot, midwife_slot}
        item = (await client.get("/v1/slots/search", params={"territory": "36", "profession": "50"},
                                 headers=operator)).json()["items"][0]
        assert item["practitioner"]["profession_code"] == "50" and item["practitioner"]["languages"] == ["fr", "ar"]
        assert item["site"]["kind"] == "msp"

    async def test_an_effector_sets_his_languages(self, client, auth):
        doc = await create_practitioner(client, auth("admin", []))
        me = auth("effector", practitioner_id=doc["id"])
        response = await client.patch("/v1/practitioners/me", json={"languages": ["fr", "es"]}, headers=me)
        assert response.status_code == 200 and response.json()["languages"] == ["fr", "es"]
