"""Shared by the tests of this folder."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.main import create_app


def instance(settings, engine, **limits):
    """One more instance of the app on the same database (as a second worker or machine would be)."""
    application = create_app(settings.model_copy(update={
        "rate_limits": {"search": 100, "booking": 100, "import": 100, "auth_failure": 100, **limits}}))
    application.state.engine = engine
    application.state.sessionmaker = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
    return application


def client_of(application) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://test")
