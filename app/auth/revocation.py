"""A disabled account refused at once by every process: each reads the users registry's generation (one row,
bumped by a trigger in every transaction that changes ``users``, migration 0034) about every second and, when
it moved, forgets the registry answers it keeps (``forget_registered``) and asks its live streams to check
their user again now (``on_change``: the hub's recheck, wired in app/workers.py).

One tiny query under a timeout of its own, on a connection of its own (a pool of one, kept from one reading
to the next): a burst of requests holding the app's pool never delays it, and a slow or absent database costs
this loop a failed round, never a pooled connection held, never a request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.auth.registry import forget_registered
from app.platform.logging import log
from app.platform.periodic import every

_GENERATION = text("SELECT n FROM registry_generation WHERE id = 1")
# The most one reading may take, waiting for a connection included.
READ_TIMEOUT_SECONDS = 2.0


class Watch:
    """The generation this process read last; what to do when it moves."""

    def __init__(self, engine: AsyncEngine, on_change: Callable[[], None] | None = None) -> None:
        self.engine = engine
        self.on_change = on_change
        self.seen: int | None = None

    async def check(self) -> bool:
        """Read the generation; True when it moved since the last reading (what is kept was forgotten)."""
        # The first reading waits longer: at start-up the process competes with its siblings and the jobs'
        # workers for the processor (measured: 3 to 4 s on two workers).
        async with asyncio.timeout(READ_TIMEOUT_SECONDS * (1 if self.seen is not None else 10)):
            async with self.engine.connect() as connection:
                now = (await connection.execute(_GENERATION)).scalar_one()
        # The first reading forgets too: what was kept before it (a start-up slow enough for requests to come
        # first) may predate a change it cannot see.
        moved = now != self.seen
        first, self.seen = self.seen is None, now
        if moved:
            forget_registered()
            if self.on_change is not None:
                self.on_change()
            if not first:
                log.info("registry.changed", generation=now)
        return moved


def start_watching(engine: AsyncEngine, seconds: float,
                   on_change: Callable[[], None] | None = None) -> Callable[[], Awaitable[None]]:
    """Watch the registry's generation every ``seconds`` (on a pool of one connection to ``engine``'s
    database); the returned function stops it."""
    own = create_async_engine(engine.url, pool_size=1, max_overflow=0, pool_timeout=READ_TIMEOUT_SECONDS,
                              connect_args={"server_settings": {"application_name": "snp-registry-watch"}})
    stop = every(seconds, Watch(own, on_change).check, "registry_watch", stop_timeout=READ_TIMEOUT_SECONDS + 5)

    async def _stop() -> None:
        try:
            await stop()
        finally:
            await own.dispose()

    return _stop
