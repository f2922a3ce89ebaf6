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

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.errors import send_error
from app.http.routes import policy_of
from app.platform.logging import log


class DeadlineMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        settings = getattr(getattr(scope.get("app"), "state", None), "settings", None)
        default = getattr(settings, "request_deadline_seconds", 0.0)
        budget = None
        if scope["type"] == "http" and default > 0:
            policy = policy_of(scope)
            budget = (policy.deadline or default) if policy.timed else None
        if budget is None:
            await self.app(scope, receive, send)
            return
        started = False
        read_all = asyncio.Event()

        async def reading() -> Message:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                read_all.set()
            return message

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        async def client_gone() -> None:
            await read_all.wait()  # the body is the handler's to read; after it, only a disconnect comes
            while (await receive())["type"] != "http.disconnect":
                pass

        async def handle() -> None:
            await self.app(scope, reading, sending)

        handler = asyncio.create_task(handle())
        watcher = asyncio.create_task(client_gone())
        try:
            done, _ = await asyncio.wait({handler, watcher}, timeout=budget, return_when=asyncio.FIRST_COMPLETED)
            if handler in done:
                handler.result()  # its own error, if any, goes on as before
                return
            handler.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await handler
            if watcher in done:
                log.info("request.abandoned", path=scope["path"])
                return
            log.warning("request.deadline", path=scope["path"], seconds=budget)
            if not started:
                await send_error(send, 503, "Unavailable", f"The request took longer than {budget:g} s: retry "
                                 "shortly", None, [(b"retry-after", b"1")], path=scope["path"])
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
