"""The edge: the one layer every request crosses before the app, reading its route's row of
``http/routes.py`` once.

In order, for an HTTP request:
1. headers past their limits: 431; a body announced larger than the route takes: 413 (``limits``);
2. who is asking, from what this deployment trusts (``proxies``);
3. the rate budgets: 429 with ``Retry-After`` (``ratelimit``);
4. the handler runs, its body counted as it arrives (413 at once past the limit, the handler then told
   the client went away), within its deadline (503) and no longer than its client stays (``deadline``);
5. the answer is counted and logged under the route's template (``metrics``).
Refusals of steps 1 and 3 cost no more than the check; websockets only get step 2.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.deadline import client_gone, run_within
from app.http.errors import send_error
from app.http.limits import declared_too_large, header_refusal, refuse_body, refuse_headers
from app.http.metrics import observe
from app.http.proxies import Proxies
from app.http.ratelimit import Admitted, Limiter, admit, answered, too_many
from app.http.routes import policy_of
from app.platform.addresses import Network


class Edge:
    def __init__(self, app: ASGIApp, trusted_proxies: Sequence[Network] = ()) -> None:
        self.app = app
        self.proxies = Proxies(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http":
            if kind == "websocket":
                self.proxies.apply(scope)
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        too_large = header_refusal(scope)
        if too_large is not None:
            await refuse_headers(send, too_large, path)
            return
        policy = policy_of(scope)
        limit = policy.body_bytes
        if declared_too_large(scope, limit):
            await refuse_body(send, limit, path)
            return
        self.proxies.apply(scope)
        state = getattr(scope.get("app"), "state", None)
        limiter: Limiter | None = getattr(state, "limiter", None)
        admitted: Admitted | None = None
        if limiter is not None and policy.limited:
            admission = admit(limiter, scope, policy)
            if isinstance(admission, str):
                await too_many(send, limiter, admission, path)
                return
            admitted = admission
        deadline: float | None = None
        if policy.timed:
            default = getattr(getattr(state, "settings", None), "request_deadline_seconds", 0.0)
            if default > 0:
                deadline = policy.deadline or default

        status, started, refused, received = 500, False, False, 0
        read_all = asyncio.Event()

        async def reading() -> Message:
            # The body passes through as it comes; past the limit, the client is answered 413 at once
            # and the app is told the client went away (whatever it answers then is not sent).
            nonlocal received, refused, status
            message = await receive()
            if message["type"] == "http.request":
                if not message.get("more_body", False):
                    read_all.set()
                if not refused:
                    received += len(message.get("body", b""))
                    if received > limit:
                        refused, status = True, 413
                        await refuse_body(send, limit, path)
                        read_all.set()
                        return {"type": "http.disconnect"}
            else:
                read_all.set()
            return message

        async def sending(message: Message) -> None:
            nonlocal status, started
            if refused:
                return
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                if admitted is not None and limiter is not None:
                    answered(limiter, admitted, status)
            await send(message)

        async def late() -> None:
            if not started:
                await send_error(sending, 503, "Unavailable", f"The request took longer than {deadline:g} s: "
                                 "retry shortly", None, [(b"retry-after", b"1")], path=path)

        start = time.perf_counter()
        try:
            if deadline is None:
                await self.app(scope, reading, sending)
            else:
                await run_within(deadline, self.app(scope, reading, sending), client_gone(reading, read_all),
                                 late, path)
        except Exception:
            if not refused:
                raise
        finally:
            observe(scope, status, time.perf_counter() - start)
