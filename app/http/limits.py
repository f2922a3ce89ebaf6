"""Limits at the door: oversized headers and bodies are refused before anything reads them further,
authentication included (a 67 MB bearer token was once decoded for 22 s; a 200 MB body without a
token was read whole before its 401).

The edge (``app/http/edge.py``) asks ``header_refusal`` and ``declared_too_large`` before anything
else, then counts the body as it arrives and refuses it as soon as it passes its route's limit; what
is accepted is handed on to the app unchanged.
"""

from __future__ import annotations

from starlette.types import Scope, Send

from app.http.errors import send_error

# Bytes of one header line (name and value), and of all of them together.
MAX_HEADER_BYTES = 8 * 1024
MAX_HEADERS_BYTES = 32 * 1024


async def refuse(send: Send, status: int, error: str, detail: str, field: str | None, path: str = "") -> None:
    # The connection is closed after: what is left of a refused body is not read.
    await send_error(send, status, error, detail, field, [(b"connection", b"close")], path=path)


def header_refusal(scope: Scope) -> str | None:
    """The name of the first header past the limits (one line, or all of them together), if any."""
    total = 0
    for name, value in scope["headers"]:
        size = len(name) + len(value)
        total += size
        if size > MAX_HEADER_BYTES or total > MAX_HEADERS_BYTES:
            return name.decode("latin-1")
    return None


async def refuse_headers(send: Send, name: str, path: str) -> None:
    await refuse(send, 431, "HeadersTooLarge", f"A header is larger than {MAX_HEADER_BYTES} bytes, or all of "
                 f"them than {MAX_HEADERS_BYTES}", name, path=path)


async def refuse_body(send: Send, limit: int, path: str) -> None:
    await refuse(send, 413, "PayloadTooLarge", f"The body is larger than this route takes ({limit} bytes)",
                 "body", path=path)


def declared_too_large(scope: Scope, limit: int) -> bool:
    """Whether the body's announced length (``Content-Length``) already passes ``limit``."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value) > limit
            except ValueError:
                return False
    return False
