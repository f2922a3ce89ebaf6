"""Periodic jobs of the app (rollup folding, scheduled purge, rate-limit reconciliation, embedded
server supervision): one loop for all of them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from app.platform.logging import log


def every(
    interval_seconds: float, job: Callable[[], Awaitable[Any]], name: str, *, stop_timeout: float = 30
) -> Callable[[], Awaitable[None]]:
    """Run ``job`` now, then every ``interval_seconds``, as a task of the running loop, until the
    returned coroutine function is awaited. A failing round is logged (``<name>.failed``, the error's
    type only) and the next round tries again."""
    stop = asyncio.Event()

    async def run() -> None:
        while not stop.is_set():
            try:
                await job()
            except Exception as exc:  # noqa: BLE001 - the next round tries again
                log.error(f"{name}.failed", error=type(exc).__name__)
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval_seconds)
            except TimeoutError:
                pass

    task = asyncio.create_task(run(), name=f"snp-{name}")

    async def _stop() -> None:
        stop.set()
        await asyncio.wait_for(task, timeout=stop_timeout)

    return _stop
