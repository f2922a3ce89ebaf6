"""Every background activity of an instance, listed once (as ``main.routers()`` lists the routes).

Each entry starts its activity when the settings ask for it and gives back the function that stops it;
the lifespan enters them in this order with one exit stack, so they stop in the reverse order, before
the database they use is closed. A reader finds here what runs beside the requests, and where.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

from app.platform.config import Settings

Stop = Callable[[], Awaitable[None]]


def _replica(state: Any, settings: Settings) -> Stop | None:
    """The replica's lag, measured for the reads that may go there (app/platform/replica.py)."""
    if getattr(state, "replica", None) is None:
        return None
    from app.platform.replica import start_monitoring

    return start_monitoring(state.replica, settings.replica_check_seconds)


def _relay(state: Any, settings: Settings) -> Stop | None:
    """The effectors' webhooks, from the outbox (app/notifications/relay.py)."""
    if not settings.relay_enabled:
        return None
    from app.notifications.relay import start_in_background

    return start_in_background(state.sessionmaker, settings)


def _declarer(state: Any, settings: Settings) -> Stop | None:
    """Appointments declared to the national platform, from the outbox (app/fhir/declare.py)."""
    if not settings.ptf_sas_fhir_url:
        return None
    from app.fhir.declare import start_in_background

    return start_in_background(state.sessionmaker, settings)


def _notices(state: Any, settings: Settings) -> Stop | None:
    """The patient's messages (confirmation, cancellation by SMS and e-mail), from the outbox (app/notices/):
    only where a provider is configured."""
    if not (settings.smtp_url or settings.sms_url or settings.sms_sink):
        return None
    from app.notices.sender import start_in_background

    return start_in_background(state.sessionmaker, settings)


def _gp_reports(state: Any, settings: Settings) -> Stop | None:
    """The visits' reports to the médecins traitants by secure mail (app/notices/reports.py): only where an
    MSSanté server is configured."""
    if not settings.mssante_smtp_url:
        return None
    from app.notices.reports import start_in_background

    return start_in_background(state.sessionmaker, settings)


def _hub(state: Any, settings: Settings) -> Stop | None:
    """Appointments to the SAMUs through the Hub Santé, and their answers (app/hub/publisher.py, app/hub/answers.py):
    never beside the declarer, since the national platform tells the SAMUs of what we declare to it."""
    if not settings.hub_amqp_url or settings.ptf_sas_fhir_url:
        return None
    from app.hub.publisher import start_in_background

    return start_in_background(state.sessionmaker, settings)


def _agenda(state: Any, settings: Settings) -> Stop | None:
    """Practitioners' agenda editors pulled on a schedule (app/fhir/agenda.py)."""
    if settings.agenda_sync_seconds <= 0:
        return None
    from app.fhir.agenda import start_in_background

    return start_in_background(state.sessionmaker, settings)


def _compactor(state: Any, settings: Settings) -> Stop | None:
    """The national statistics rollup folded (app/stats/compactor.py)."""
    if settings.stats_compact_seconds <= 0:
        return None
    from app.stats.compactor import start_in_background

    return start_in_background(state.sessionmaker, settings.stats_compact_seconds)


def _supervisor(state: Any, settings: Settings) -> Stop | None:
    """The embedded PostgreSQL started again if it died (app/platform/supervisor.py)."""
    embedded = getattr(state, "embedded", None)
    if embedded is None or not embedded.started_here or settings.embedded_supervise_seconds <= 0:
        return None
    from app.platform.supervisor import start_supervising

    return start_supervising(embedded, settings.embedded_supervise_seconds)


def _rate_limits(state: Any, settings: Settings) -> Stop | None:
    """The rate budgets shared with the other instances (app/http/ratelimit.py)."""
    if state.limiter is None:
        return None
    from app.http.ratelimit import start_syncing

    return start_syncing(state.limiter, state.engine, settings.rate_limit_sync_seconds)


def _purge(state: Any, settings: Settings) -> Stop | None:
    """Patient identity purged past its retention, the regulation's record past its own (app/calls/retention.py);
    the MT waiting list's identities past theirs, counted from the request's end (app/mt/retention.py)."""
    if settings.purge_interval_seconds <= 0:
        return None
    from app.calls.retention import start_in_background
    from app.mt import retention as mt_retention

    stop_calls = start_in_background(state.sessionmaker, settings.retention_days, settings.purge_interval_seconds,
                                     settings.record_retention_days)
    stop_mt = mt_retention.start_in_background(state.sessionmaker, settings.mt_retention_days,
                                               settings.purge_interval_seconds)

    async def stop() -> None:
        await stop_mt()
        await stop_calls()

    return stop


def _jobs(state: Any, settings: Settings) -> Stop | None:
    """The worker processes of the CPU-heavy jobs, started beside the serving (app/platform/jobs.py)."""
    from app.platform.jobs import jobs_of

    pool = jobs_of(settings)
    warming = asyncio.create_task(pool.warm(), name="snp-jobs-warm")

    async def stop() -> None:
        warming.cancel()
        await asyncio.gather(warming, return_exceptions=True)
        await asyncio.to_thread(pool.stop)

    return stop


def _registry(state: Any, settings: Settings) -> Stop | None:
    """A disabled account refused at once on every process: the registry's generation watched, the kept answers
    forgotten and the live streams checked again when it moves (app/auth/revocation.py)."""
    if settings.registry_check_seconds <= 0:
        return None
    from app.auth.revocation import start_watching
    from app.territories.repository import forget_scopes

    def recheck_streams() -> None:
        forget_scopes()  # a territory written elsewhere (its trigger bumps the same generation)
        live = getattr(state, "live", None)
        if live is not None:
            live.recheck()

    return start_watching(state.engine, settings.registry_check_seconds, recheck_streams)


def _live(state: Any, settings: Settings) -> Stop | None:
    """The live queue's streams, ended first so that consoles reconnect elsewhere (app/calls/live.py)."""

    async def stop() -> None:
        live = getattr(state, "live", None)
        if live is not None:
            await live.close()

    return stop


WORKERS: tuple[Callable[[Any, Settings], Stop | None], ...] = (
    _replica, _relay, _declarer, _notices, _gp_reports, _hub, _agenda, _compactor, _supervisor, _rate_limits, _purge,
    _jobs, _registry, _live,
)


def enter(stack: AsyncExitStack, state: Any, settings: Settings) -> None:
    """Start every worker the settings ask for; the stack stops them, last started first."""
    for start in WORKERS:
        stop = start(state, settings)
        if stop is not None:
            stack.push_async_callback(stop)
