"""Every request has a deadline, and a request whose client has gone is stopped.

The handler runs in a task of its own. Past its route's deadline (``SNP_REQUEST_DEADLINE_SECONDS``;
longer for the statistics and the imports) it is cancelled and, if nothing was sent yet, the client
gets a 503 with ``Retry-After``; when the client disconnects before the answer, it is cancelled too.
Cancelling the task cancels the statement PostgreSQL is running for it (asyncpg sends the cancel
request), so a request nobody waits for no longer holds a connection, a lock or a CPU. The live
stream and the console's files are left alone: they end by themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from starlette.types import Receive

from app.platform.logging import log


async def client_gone(receive: Receive, read_all: asyncio.Event) -> None:
    """Returns when the client disconnects. The body is the handler's to read; after it, only a
    disconnect comes."""
    await read_all.wait()
    while (await receive())["type"] != "http.disconnect":
        pass


async def run_within(seconds: float, handler: Awaitable[None], gone: Coroutine[Any, Any, None],
                     late: Callable[[], Awaitable[None]], path: str) -> None:
    """Run ``handler`` for at most ``seconds``, and no longer than its client stays (``gone``); past the
    deadline it is cancelled and ``late`` answers, if it still can."""
    handling = asyncio.ensure_future(handler)  # an ASGI app's call: an awaitable, a coroutine in practice
    watcher = asyncio.create_task(gone)
    try:
        done, _ = await asyncio.wait({handling, watcher}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        if handling in done:
            handling.result()  # its own error, if any, goes on as before
            return
        handling.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await handling
        if watcher in done:
            log.info("request.abandoned", path=path)
            return
        log.warning("request.deadline", path=path, seconds=seconds)
        await late()
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
