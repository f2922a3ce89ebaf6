"""Building blocks for tests, all through the HTTP API as a client would."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from app.reference.identifiers import luhn_key

_counter = itertools.count(1)


def new_rpps() -> str:
    body = f"1{next(_counter):09d}"
    return body + luhn_key(body)


async def create_practitioner(
    client: httpx.AsyncClient, admin: dict[str, str], territories: list[str] | None = None, **fields: Any
) -> dict[str, Any]:
    body = {
        "rpps": new_rpps(), "family_name": "Martin", "given_name": "Claire", "specialty": "Médecine générale",
        "territory_codes": territories or ["36"], **fields,
    }
    response = await client.post("/v1/practitioners", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


async def create_site(
    client: httpx.AsyncClient, admin: dict[str, str], territory: str = "36", **fields: Any
) -> dict[str, Any]:
    body = {
        "name": "Maison de santé du Centre", "kind": "msp", "address": "1 place de la République",
        "postcode": "36000", "lat": 46.8103, "lon": 1.6913, "territory_code": territory, **fields,
    }
    response = await client.post("/v1/sites", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


async def create_cpts(
    client: httpx.AsyncClient, admin: dict[str, str], code: str, parent: str = "36", name: str | None = None
) -> dict[str, Any]:
    body = {"code": code, "name": name or f"CPTS {code}", "kind": "cpts", "parent_code": parent,
            "timezone": "Europe/Paris"}
    response = await client.post("/v1/territories", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


# What an ED redirection must name of its patient besides his birth year: the effector must know whom he
# sees, and the regulation must reach him if the doctor cancels.
REDIRECTED = {"family_name": "Petit", "phone": "0611223344"}
# The least a call entered live carries: the patient's phone.
NEW_CALL = {"territory_code": "36", "channel": "15", "patient": {"phone": "0611223344"}}
