"""The console is served with the API, in French, and only calls operations the API really has."""

from __future__ import annotations

import json
import re

import httpx

from app.openapi_export import render


class TestConsolePage:
    async def test_the_home_page_leads_to_the_console(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/", follow_redirects=False)
        assert response.status_code == 307
        assert response.headers["location"] == "/console/"

    async def test_the_console_is_in_french_and_loads_its_assets(self, client: httpx.AsyncClient) -> None:
        page = await client.get("/console/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert '<html lang="fr">' in page.text
        for label in ("Nouvel appel", "File d'attente", "Créneaux SNP disponibles", "Activité mensuelle"):
            assert label in page.text
        for asset in re.findall(r'(?:src|href)="(/console/[^"]+)"', page.text):
            assert (await client.get(asset)).status_code == 200, asset

    async def test_no_file_outside_the_console_folder_is_served(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/console/..%2Frouter.py")).status_code == 404
        assert (await client.get("/console/nothing.js")).status_code == 404

    async def test_every_api_path_the_script_calls_exists_in_the_contract(self, client: httpx.AsyncClient) -> None:
        script = (await client.get("/console/console.js")).text
        paths = set(json.loads(render())["paths"])
        called = {re.sub(r"\$\{[^}]+\}", "{x}", p.split("?")[0]) for p in re.findall(r"[`\"](/v1/[^`\"]*)", script)}
        templates = {re.sub(r"\{[^}]+\}", "{x}", p) for p in paths}
        assert called, "the script calls the API"
        missing = sorted(c for c in called if c not in templates)
        assert not missing, f"console calls paths the API does not have: {missing}"
