"""The embedded PostgreSQL, kept running: if it dies, the app starts it again by itself.

Only a server this app started is supervised (an external ``SNP_DATABASE_URL`` is someone else's: the
pool reconnects to it on its own once it is back). Meanwhile requests answer JSON 503 with
``Retry-After`` and ``/ready`` says 503; the pool drops its broken connections at their first error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from app.platform.embedded import EmbeddedPostgres
from app.platform.logging import log
from app.platform.periodic import every


async def check_once(embedded: EmbeddedPostgres) -> bool:
    """Start the server again if it is not running; True when it had to."""
    if await asyncio.to_thread(embedded.is_running):
        return False
    log.warning("embedded.down")
    await asyncio.to_thread(embedded.start)
    log.info("embedded.restarted")
    return True


def start_supervising(embedded: EmbeddedPostgres, interval_seconds: float) -> Callable[[], Awaitable[None]]:
    return every(interval_seconds, lambda: check_once(embedded), "embedded.supervision", stop_timeout=90)
