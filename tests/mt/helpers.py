"""Doctors who take new patients and patients without a médecin traitant, made through the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from tests.support.factories import create_practitioner, create_site

CHATEAUROUX = {"name": "MSP Châteauroux", "postcode": "36000", "lat": 46.8103, "lon": 1.6913}
ISSOUDUN = {"name": "MSP Issoudun", "postcode": "36100", "lat": 46.9481, "lon": 1.9933}
LE_BLANC = {"name": "Cabinet du Blanc", "postcode": "36300", "lat": 46.6339, "lon": 1.0628}
ADULT = dt.date.today().year - 40


async def doctor(
    client: httpx.AsyncClient, auth: Any, *, territory: str = "36", site: dict[str, Any] | None = None,
    per_month: int = 2, publics: list[str] | None = None, public_listing: bool = False, family_name: str = "Martin",
    accepting: bool = True,
) -> dict[str, Any]:
    """A doctor at a site of his own who takes new patients; his effector headers under ``headers``."""
    admin = auth("admin", [])
    place = await create_site(client, admin, territory=territory, **(site or CHATEAUROUX))
    practitioner = await create_practitioner(client, admin, [territory], site_ids=[place["id"]],
                                             family_name=family_name)
    headers = auth("effector", [territory], practitioner_id=practitioner["id"])
    offer = await client.put("/v1/practitioners/me/new-patients", headers=headers, json={
        "accepting": accepting, "per_month": per_month, "publics": publics or ["any"], "site_ids": [place["id"]],
        "public_listing": public_listing})
    assert offer.status_code == 200, offer.text
    return {"id": practitioner["id"], "site": place, "headers": headers, "offer": offer.json()}


async def request(
    client: httpx.AsyncClient, headers: dict[str, str], *, territory: str = "36", source: str = "coordinator",
    publics: list[str] | None = None, expect: int = 201, **patient: Any,
) -> dict[str, Any]:
    body = {"territory_code": territory, "source": source, "publics": publics or [],
            "patient": {"family_name": "Durand", "given_name": "Marie", "birth_year": ADULT, "phone": "0611223344",
                        "postcode": "36000", **patient}}
    response = await client.post("/v1/mt-requests", json=body, headers=headers)
    assert response.status_code == expect, response.text
    return response.json()


async def propose(client: httpx.AsyncClient, coordinator: dict[str, str], request_id: str,
                  practitioner_id: str) -> dict[str, Any]:
    response = await client.post(f"/v1/mt-requests/{request_id}/proposals", headers=coordinator,
                                 json={"practitioner_id": practitioner_id, "patient_agreed": True})
    assert response.status_code == 201, response.text
    return response.json()
