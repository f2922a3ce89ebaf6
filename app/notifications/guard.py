"""No internal targets: webhooks reach the public internet only.

An effector chooses the URL the relay posts signed events to; without this guard it could be
``http://127.0.0.1:5432``, the cloud metadata address ``169.254.169.254``, or a name that resolves to
either. The URL is checked when it is registered, and every connection the relay opens is checked
again after DNS resolution, on the address it actually dials (a name re-pointed to an internal
address after registration is refused too). Redirects are never followed.

``SNP_WEBHOOK_ALLOWED_HOSTS`` (empty by default, and in production) names hosts that may be internal
anyway, for tests and local receivers.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from httpcore._backends.auto import AutoBackend


class InternalTarget(ValueError):
    """The webhook would reach a private, loopback, link-local, multicast or reserved address."""


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, *, allowed_hosts: Iterable[str], allow_plain_http: bool) -> None:
    """Refuse (ValueError, said for the client) a webhook URL the relay must not post to."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    allowed = {h.lower() for h in allowed_hosts}
    if parts.scheme != "https" and not (parts.scheme == "http" and (allow_plain_http or host in allowed)):
        raise ValueError("must be an https URL (plain http only in development)")
    if host in allowed:
        return
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None and not is_public(str(literal)):
        raise InternalTarget(f"{host} is not a public address")
    if host in ("localhost",) or host.endswith((".localhost", ".local", ".internal")):
        raise InternalTarget(f"{host} is not a public host")


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's own backend, dialling only public addresses, resolved here and dialled as such."""

    def __init__(self, allowed_hosts: Iterable[str]) -> None:
        self.allowed = {h.lower() for h in allowed_hosts}
        self.inner = AutoBackend()

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        if host.lower() in self.allowed:
            return await self.inner.connect_tcp(host, port, timeout, local_address, socket_options)
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = [str(info[4][0]) for info in infos]
        internal = [a for a in addresses if not is_public(a)]
        if not addresses or internal:
            raise httpcore.ConnectError(f"refused: {host} resolves to a non-public address")
        return await self.inner.connect_tcp(addresses[0], port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("refused: webhooks are not unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def guarded_client(allowed_hosts: Iterable[str], timeout: float) -> httpx.AsyncClient:
    """The relay's HTTP client: public addresses only, no redirects followed."""
    transport = httpx.AsyncHTTPTransport()
    transport._pool._network_backend = GuardedBackend(allowed_hosts)  # the pool dials through it
    return httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False, trust_env=False)
