"""One table of route policies: every row names a route of the app, every route has its row, and the edge
reads the row a request's path falls under."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.http.routes import DEFAULT, POLICIES, policy_for
from app.main import create_app
from app.platform.config import Settings


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, template) of every route, routers included at any depth."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _routes(included.routes, prefix + route.include_context.prefix)
        elif getattr(route, "methods", None):
            for method in route.methods - {"HEAD"}:
                yield method, prefix + route.path


@pytest.fixture(scope="module")
def served_routes() -> set[tuple[str, str]]:
    return set(_routes(create_app(Settings(jwt_secret="x" * 40)).routes))


def test_every_row_names_a_route_of_the_app(served_routes) -> None:
    assert set(POLICIES) - served_routes == set()


def test_every_route_has_its_row(served_routes) -> None:
    assert served_routes - set(POLICIES) == set()


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("POST", "/v1/slots/import-ics", POLICIES[("POST", "/v1/slots/import-ics")]),
    ("POST", "/v1/slots/import-ics/", POLICIES[("POST", "/v1/slots/import-ics")]),
    ("GET", "/v1/calls/6f1c1f7e-3c1d-4c3e-9a8b-0d2a5e1f4b21", DEFAULT),
    ("POST", "/v1/self-referrals/abc.def", POLICIES[("POST", "/v1/self-referrals/{token}")]),
    ("GET", "/console/views/queue.js", POLICIES[("GET", "/console/{name:path}")]),
    ("GET", "/health", POLICIES[("GET", "/health")]),
    ("HEAD", "/health", POLICIES[("GET", "/health")]),
    ("GET", "/no/such/route", DEFAULT),
])
def test_a_request_gets_the_row_of_the_route_that_serves_it(method: str, path: str, expected: Any) -> None:
    assert policy_for(method, path) == expected


def test_the_rows_say_what_the_edge_applies() -> None:
    assert policy_for("POST", "/v1/calls/import").body_bytes == 64 * 1024 * 1024
    assert policy_for("GET", "/v1/slots/search").budget == "search"
    assert policy_for("POST", "/v1/self-referrals/t").by_address
    assert not policy_for("GET", "/v1/stream").timed
    assert not policy_for("GET", "/metrics").limited
    assert policy_for("GET", "/v1/stats/monthly").deadline == 120.0
