"""The edge layer: which headers count depends on who sent them (SNP_TRUSTED_PROXIES), and production
names its public address."""

from __future__ import annotations

import httpx
import pytest

from app.http import routes
from app.http.edge import Edge
from app.http.proxies import Proxies
from app.platform.addresses import parse_networks
from app.platform.config import Settings
from tests.support.database import PRODUCTION_KEYS


async def _echo(scope, receive, send) -> None:
    """What the app behind the edge is told."""
    import json

    body = json.dumps({"client": scope["client"][0], "scheme": scope["scheme"], "peer": scope["state"]["peer"],
                       "trusted": scope["state"]["peer_trusted"],
                       "cert": [v.decode() for n, v in scope["headers"] if n == b"x-client-cert"]}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


async def _seen(peer: str, headers: dict[str, str], trusted: tuple[str, ...] = ("10.0.0.0/8", "::1")) -> dict:
    proxies = Proxies(parse_networks(trusted))

    async def edge(scope, receive, send) -> None:
        proxies.apply(scope)
        await _echo(scope, receive, send)

    transport = httpx.ASGITransport(app=edge, client=(peer, 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return (await client.get("/", headers=headers)).json()


FORWARDED = {"X-Forwarded-For": "198.51.100.9", "X-Forwarded-Proto": "https", "X-Client-Cert": "forged"}


class TestWhoIsAsking:
    async def test_an_untrusted_peer_is_the_client_and_its_forwarding_headers_count_for_nothing(self) -> None:
        seen = await _seen("192.0.2.1", FORWARDED)
        assert seen == {"client": "192.0.2.1", "scheme": "http", "peer": "192.0.2.1", "trusted": False, "cert": []}

    async def test_a_trusted_proxy_names_the_client_the_scheme_and_passes_the_certificate(self) -> None:
        seen = await _seen("10.1.2.3", {**FORWARDED, "X-Forwarded-For": "1.1.1.1, 198.51.100.9, 10.9.9.9"})
        assert seen == {"client": "198.51.100.9", "scheme": "https", "peer": "10.1.2.3", "trusted": True,
                        "cert": ["forged"]}

    async def test_a_chain_of_trusted_proxies_gives_its_leftmost_and_garbage_stops_at_the_last_trusted_hop(self):
        assert (await _seen("::ffff:10.0.0.1", {"X-Forwarded-For": "10.0.0.2, ::1"}))["client"] == "10.0.0.2"
        assert (await _seen("10.0.0.1", {"X-Forwarded-For": "203.0.113.1, unknown, 10.0.0.5"}))["client"] == "10.0.0.5"
        assert (await _seen("10.0.0.1", {}))["client"] == "10.0.0.1"


class TestSettings:
    def test_trusted_proxies_are_addresses_or_networks_as_json_or_a_list(self, monkeypatch) -> None:
        monkeypatch.setenv("SNP_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")
        assert Settings().trusted_proxies == ["10.0.0.0/8", "127.0.0.1"]
        monkeypatch.setenv("SNP_TRUSTED_PROXIES", '["::1"]')
        assert Settings().trusted_proxies == ["::1"]
        monkeypatch.setenv("SNP_TRUSTED_PROXIES", "10.0.0.0/8, proxy.example")
        with pytest.raises(ValueError, match="proxy.example"):
            Settings()
        monkeypatch.delenv("SNP_TRUSTED_PROXIES")
        assert Settings().trusted_proxies == []

    def test_production_refuses_to_start_without_its_public_address(self) -> None:
        keys = {k: v for k, v in PRODUCTION_KEYS.items() if k != "public_url"}
        with pytest.raises(ValueError, match="SNP_PUBLIC_URL"):
            Settings(env="production", jwt_secret="s" * 48, **keys)
        assert Settings(env="production", jwt_secret="s" * 48, **PRODUCTION_KEYS).base_url == "https://snp.example.test"
        with pytest.raises(ValueError, match="SNP_PUBLIC_URL"):
            Settings(public_url="snp.example.test")


class TestOneLayer:
    def test_the_app_has_one_layer_of_its_own_before_the_routes(self, app) -> None:
        assert [layer.cls for layer in app.user_middleware] == [Edge]

    async def test_a_request_reads_its_route_row_once_for_every_step_of_the_edge(self, client, auth, monkeypatch):
        looked_up: list[tuple[str, str]] = []
        real = routes.policy_for

        def counted(method: str, path: str) -> routes.Policy:
            looked_up.append((method, path))
            return real(method, path)

        monkeypatch.setattr(routes, "policy_for", counted)
        response = await client.get("/v1/slots/search", params={"territory_code": "36"}, headers=auth("operator"))
        assert response.status_code == 200, response.text
        assert looked_up == [("GET", "/v1/slots/search")]
