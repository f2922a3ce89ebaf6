"""Every dependency of every route is a coroutine: FastAPI runs a plain ``def`` dependency in its thread
pool, a hand-off per request (three sync dependencies once cost a worker a third of its bookings)."""

from __future__ import annotations

import inspect

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.main import create_app


def _calls(dependant: Dependant) -> list:
    found = []
    for sub in dependant.dependencies:
        found.append(sub.call)
        found += _calls(sub)
    return found


def _api_routes(routes: list) -> list[APIRoute]:
    """Every API route, routers included at any depth."""
    found = []
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            found += _api_routes(included.routes)
        elif isinstance(route, APIRoute):
            found.append(route)
    return found


def test_no_route_waits_on_the_thread_pool_for_a_dependency() -> None:
    routes = _api_routes(create_app().routes)
    assert len(routes) > 50
    sync = set()
    for route in routes:
        for call in _calls(route.dependant):
            target = call if inspect.isroutine(call) else call.__call__
            if not (inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)):
                sync.add(f"{route.path}: {getattr(call, '__qualname__', call)}")
    assert sync == set()
