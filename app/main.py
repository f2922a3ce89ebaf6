"""The ASGI application: ``app.main:app``."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from app import workers
from app.auth import terms
from app.calls.metrics import queue_metrics
from app.http import contract, docs
from app.http.edge import Edge
from app.http.errors import install_error_handlers
from app.http.metrics import Scraped, metrics_response
from app.http.ratelimit import Limiter
from app.hub.metrics import broker_probe
from app.identity import crypto
from app.notices.metrics import notice_metrics
from app.notifications.metrics import relay_metrics
from app.outbox.metrics import held_metrics, untold_metrics
from app.platform import migrate
from app.platform.config import Settings, get_settings
from app.platform.database import make_engine, make_sessionmaker, normalize_url, resolve_database_url
from app.platform.logging import configure_logging, log
from app.platform.probes import certificates_expiry, configured_certificates, dependencies_up, identity_provider_probe
from app.slots.metrics import published_metrics


def routers() -> list[APIRouter]:
    """Every router of the API, listed here so that a reader finds each path's module. Starlette tries
    routes in this order: the slot search (``/v1/slots/search``) comes before ``/v1/slots/{slot_id}``."""
    from app.audit.router import router as audit
    from app.bookings.router import patient_router as patient_links
    from app.bookings.router import router as bookings
    from app.bookings.router import slot_search_router as slot_search
    from app.calls.router import referral_router as referrals
    from app.calls.router import router as calls
    from app.calls.router import self_referral_router as self_referrals
    from app.console.api_router import router as console_api
    from app.console.router import router as console
    from app.fhir.routers.appointments import router as fhir_appointments
    from app.fhir.routers.bulk import router as fhir_bulk
    from app.fhir.routers.declarations import router as declarations
    from app.fhir.routers.metadata import router as fhir_metadata
    from app.fhir.routers.practitioners import router as fhir_practitioners
    from app.fhir.routers.slots import router as fhir_slots
    from app.mt.router import doctors_router as mt_doctors
    from app.mt.router import offers_router as mt_offers
    from app.mt.router import pages_router as mt_pages
    from app.mt.router import proposals_router as mt_proposals
    from app.mt.router import router as mt_requests
    from app.notifications.router import router as notifications
    from app.practitioners.router import router as practitioners
    from app.sites.router import router as sites
    from app.slots.router import participation_router as participation
    from app.slots.router import router as slots
    from app.stats.router import router as stats
    from app.territories.router import router as territories
    from app.users.router import router as users
    from app.users.router import signin_router as signin

    return [territories, practitioners, sites, slot_search, bookings, slots, participation, calls, referrals,
            self_referrals, notifications, stats, audit, users, signin, declarations, console_api, fhir_slots,
            fhir_metadata, fhir_appointments, fhir_practitioners, fhir_bulk, patient_links, mt_offers, mt_doctors,
            mt_requests, mt_proposals, mt_pages, console]


DESCRIPTION = """
Soins non programmés (SNP) inside the Service d'Accès aux Soins (SAS): volunteer doctors publish
slots, SAS operators and regulating doctors qualify the calls the 15 transfers and book those
slots, emergency departments redirect patients to them, effectors post whether patients came, and
analysts pull the monthly report in the form of the Indre interCPTS publication.

Authenticate with a bearer JWT (`snp token --role operator --territory 36` in development).
Every error is `{"error": "<Name>", "detail": "<text>", "field": "<field at fault, or null>"}` (the
`ErrorBody` schema), with extra members on some errors (`errors`, `rejected`, `rows`,
`conflicting_slot_id`, `constraint`). A 503 carries `Retry-After`.
"""


def open_pools(app: FastAPI, url: str, settings: Settings) -> None:
    """The app's pools on the primary at ``url``: the requests', the search's and the reports' (each its own, so
    that neither a burst of searches nor a slow report holds a connection an operator needs)."""
    app.state.engine = make_engine(url, settings)
    app.state.search_engine = make_engine(url, settings, searches=True)
    app.state.report_engine = make_engine(url, settings, reports=True)
    app.state.sessionmaker = make_sessionmaker(app.state.engine)
    app.state.report_sessionmaker = make_sessionmaker(app.state.report_engine)


async def attach_database(app: FastAPI, settings: Settings) -> None:
    """Start the embedded server if needed, migrate, and open the pool."""
    url, embedded = await asyncio.to_thread(resolve_database_url, settings)
    if settings.migrate_on_start:
        await asyncio.to_thread(migrate.upgrade, url)
    app.state.embedded = embedded
    open_pools(app, url, settings)
    if settings.database_replica_url:
        from app.platform.replica import ReplicaMonitor

        replica_url = normalize_url(settings.database_replica_url)
        replica = make_engine(replica_url, settings)
        app.state.replica_engine = replica
        app.state.replica_sessionmaker = make_sessionmaker(replica)
        # The reports on the replica have their own pool there too: a report held up by a lock the replica replays
        # keeps its connections, never the searches'.
        app.state.replica_report_engine = make_engine(replica_url, settings, reports=True)
        app.state.replica_report_sessionmaker = make_sessionmaker(app.state.replica_report_engine)
        app.state.replica = ReplicaMonitor(app.state.engine, replica, settings.replica_max_lag_seconds)


# Young-generation collections every 50 000 allocations instead of 700: a bulk publish of 5 000 slots
# allocates some 10^5 objects, and at the default pace the collector ran hundreds of times within
# one request, its older passes walking the whole heap (measured: 30 → 6 µs a slot to validate).
GC_THRESHOLDS = (50_000, 20, 20)


def tune_garbage_collector() -> None:
    """What start-up built lives as long as the process: freeze it out of the collector's sight."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    if getattr(app.state, "sessionmaker", None) is None:
        await attach_database(app, settings)
        log.info("app.started", embedded=app.state.embedded is not None)
    try:
        async with AsyncExitStack() as stack:
            workers.enter(stack, app.state, settings)
            tune_garbage_collector()
            yield
    finally:
        for name in ("engine", "search_engine", "report_engine", "replica_engine", "replica_report_engine"):
            engine = getattr(app.state, name, None)
            if engine is not None:
                await engine.dispose()
        embedded = getattr(app.state, "embedded", None)
        if embedded is not None:
            await asyncio.to_thread(embedded.stop_if_started_here)
        log.info("app.stopped")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json)
    app = FastAPI(
        title="SNP — Service d'Accès aux Soins",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # app/http/docs.py: the pages with their assets served here, not from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    crypto.use(crypto.keyring_of(settings))  # patient identity sealed with the settings' keys
    terms.use(settings.terms_file)  # the terms of use the platform's regulators accept
    app.state.sessionmaker = None
    app.state.engine = None
    app.state.embedded = None
    app.state.live = None
    install_error_handlers(app)
    contract.install(app)
    app.state.limiter = Limiter(dict(settings.rate_limits)) if settings.rate_limits_enabled else None
    app.add_middleware(Edge, trusted_proxies=settings.proxy_networks)  # limits, proxies, budgets, deadline, metrics
    for router in routers():
        app.include_router(router)
    app.include_router(docs.router)

    @app.get("/health", tags=["operations"], operation_id="health")
    async def health() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/ready", tags=["operations"], operation_id="ready",
             responses={503: {"description": "Database unreachable or migrations not at head"}})
    async def ready(request: Request) -> Any:
        """The database answers and its schema is at the migrations' head."""
        engine = request.app.state.engine
        head = migrate.head_revision()
        if engine is None:
            return JSONResponse({"status": "unavailable", "detail": "no database"}, status_code=503)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
                current = await conn.run_sync(migrate.current_revision_sync)
        except Exception as exc:  # noqa: BLE001 - any failure to reach the database means not ready
            log.warning("ready.database_unreachable", error=type(exc).__name__)
            return JSONResponse(
                {"status": "unavailable", "detail": "database unreachable"}, status_code=503
            )
        if current != head:
            return JSONResponse(
                {"status": "unavailable", "detail": f"schema at {current}, migrations head is {head}",
                 "revision": current, "head": head},
                status_code=503,
            )
        return {"status": "ready", "revision": current}

    # What /metrics reads at scrape time beside the request counters, each bounded by a short timeout.
    scraped: list[Scraped] = [
        relay_metrics, held_metrics, untold_metrics, queue_metrics, published_metrics, notice_metrics,
        lambda _engine: dependencies_up({"identity_provider": identity_provider_probe(settings),
                                         "hub_broker": broker_probe(settings)}),
        lambda _engine: asyncio.to_thread(certificates_expiry, configured_certificates(settings)),
    ]

    @app.get("/metrics", tags=["operations"], operation_id="metrics", response_class=Response,
             responses={200: {"description": "Prometheus text exposition format",
                              "content": {"text/plain": {"schema": {"type": "string"}}}}})
    async def metrics(request: Request) -> Any:
        """Prometheus metrics: request counts and latencies per route; counted in the database at scrape time,
        the webhook relay's receivers (failing, backing off) and pending events, the appointment events not yet
        told to the platform or the SAMU (held, or waiting, and the oldest's age), the calls past their callback
        target and those nobody has taken per territory, the slots published per territory; whether the identity
        provider and the Hub's broker answer, and when the configured certificates expire."""
        return await metrics_response(request.app.state.engine, scraped)

    return app


app = create_app()
