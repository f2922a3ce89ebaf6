"""Limits at the door: oversized headers and bodies are refused before anything reads them further,
authentication included (a 67 MB bearer token was once decoded for 22 s; a 200 MB body without a
token was read whole before its 401).

A body is counted as it arrives and refused as soon as it passes its route's limit; what is
accepted is handed on to the app unchanged.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.errors import send_error
from app.http.routes import policy_of

# Bytes of one header line (name and value), and of all of them together.
MAX_HEADER_BYTES = 8 * 1024
MAX_HEADERS_BYTES = 32 * 1024
async def _refuse(send: Send, status: int, error: str, detail: str, field: str | None, path: str = "") -> None:
    # The connection is closed after: what is left of a refused body is not read.
    await send_error(send, status, error, detail, field, [(b"connection", b"close")], path=path)


class LimitsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        total = 0
        for name, value in scope["headers"]:
            size = len(name) + len(value)
            total += size
            if size > MAX_HEADER_BYTES or total > MAX_HEADERS_BYTES:
                await _refuse(send, 431, "HeadersTooLarge",
                              f"A header is larger than {MAX_HEADER_BYTES} bytes, or all of them than "
                              f"{MAX_HEADERS_BYTES}", name.decode("latin-1"), path=scope["path"])
                return
        limit = policy_of(scope).body_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, 413, "PayloadTooLarge", f"The body is larger than this route takes ({limit} bytes)",
                          "body", path=scope["path"])
            return
        received = 0
        refused = False

        async def counted() -> Message:
            # The body passes through as it comes; past the limit, the client is answered 413 at once
            # and the app is told the client went away (whatever it answers then is not sent).
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request" and not refused:
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    await _refuse(send, 413, "PayloadTooLarge",
                                  f"The body is larger than this route takes ({limit} bytes)", "body",
                                  path=scope["path"])
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            if not refused:
                await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not refused:
                raise


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None

