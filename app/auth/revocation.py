"""A disabled account refused at once by every process: each reads the users registry's generation (one row,
bumped by a trigger in every transaction that changes ``users``, migration 0034) about every second and, when
it moved, forgets the registry answers it keeps (``forget_registered``) and asks its live streams to check
their user again now (``on_change``: the hub's recheck, wired in app/workers.py).

One tiny query on a connection borrowed for milliseconds, under a timeout of its own: a slow or absent
database costs this loop a failed round, never a pooled connection held, never a request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.registry import forget_registered
from app.platform.logging import log
from app.platform.periodic import every

_GENERATION = text("SELECT n FROM registry_generation WHERE id = 1")
# The most one reading may take, waiting for a connection included.
READ_TIMEOUT_SECONDS = 1.0


class Watch:
    """The generation this process read last; what to do when it moves."""

    def __init__(self, engine: AsyncEngine, on_change: Callable[[], None] | None = None) -> None:
        self.engine = engine
        self.on_change = on_change
        self.seen: int | None = None

    async def check(self) -> bool:
        """Read the generation; True when it moved since the last reading (what is kept was forgotten)."""
        async with asyncio.timeout(READ_TIMEOUT_SECONDS):
            async with self.engine.connect() as connection:
                now = (await connection.execute(_GENERATION)).scalar_one()
        moved = self.seen is not None and now != self.seen
        self.seen = now
        if moved:
            forget_registered()
            if self.on_change is not None:
                self.on_change()
            log.info("registry.changed", generation=now)
        return moved


def start_watching(engine: AsyncEngine, seconds: float,
                   on_change: Callable[[], None] | None = None) -> Callable[[], Awaitable[None]]:
    """Watch the registry's generation every ``seconds``; the returned function stops it."""
    watch = Watch(engine, on_change)
    return every(seconds, watch.check, "registry_watch", stop_timeout=READ_TIMEOUT_SECONDS + 5)
