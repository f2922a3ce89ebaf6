"""``snp relay``: the outbox relay on its own (when the API workers run with SNP_RELAY_ENABLED=false)."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer
from rich.console import Console

from app.platform.config import get_settings

console = Console(stderr=True)


def relay(
    once: Annotated[bool, typer.Option(help="deliver what is due, then stop")] = False,
    interval: Annotated[float | None, typer.Option(help="seconds between polls when idle")] = None,
    batch: Annotated[int, typer.Option(min=1, max=1000, help="events per batch")] = 50,
) -> None:
    """Push pending booking events to the effectors' webhooks (signed, retried with backoff)."""
    from app.notifications.relay import RelayConfig, run
    from app.platform.database import make_engine, make_sessionmaker, resolve_database_url

    settings = get_settings()
    config = RelayConfig(batch_size=batch, interval_seconds=interval or settings.relay_interval_seconds,
                         allowed_hosts=tuple(settings.webhook_allowed_hosts))

    async def _main() -> None:
        url, _ = await asyncio.to_thread(resolve_database_url, settings)
        engine = make_engine(url, settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        console.print("relay running" + (" (once)" if once else ", Ctrl-C to stop"))
        try:
            await run(make_sessionmaker(engine), config, stop, once=once)
        finally:
            await engine.dispose()

    asyncio.run(_main())


COMMANDS = [relay]
