"""No internal targets: what the service calls out to (webhooks, agenda editors, the national platform)
is on the public internet only.

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
import re
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from httpcore._backends.auto import AutoBackend


class InternalTarget(ValueError):
    """The webhook would reach a private, loopback, link-local, multicast or reserved address."""


class Unresolved(httpcore.ConnectError):
    """The host does not resolve (httpx reports it as its ConnectError, caused by this)."""


class NonPublic(httpcore.ConnectError):
    """The host resolves to an address the relay must not dial."""


# IPv6 prefixes that carry an IPv4 address in their last 32 bits: NAT64's well-known prefix (RFC 6052)
# and the IPv4-compatible form (deprecated, still routed by some stacks). RFC 8215's local-use NAT64
# prefix embeds where its operator chose: it is never public.
NAT64 = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address stands for (mapped, compatible, NAT64, 6to4, Teredo), if any."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip in NAT64 or ip in IPV4_COMPATIBLE:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)  # the relay server and the (de-obfuscated) client
    return []


def parse_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """``host`` read as the C resolver reads a numeric IPv4 (``inet_aton``): one to four parts, each
    decimal, octal (``0177``) or hexadecimal (``0x7f``), the last filling the remaining bytes
    (``127.1``, ``2130706433``); None when it is not one."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = []
    for part in parts:
        if re.fullmatch(r"0[xX][0-9a-fA-F]*", part):
            values.append(int(part[2:] or "0", 16))
        elif re.fullmatch(r"0[0-7]*", part):
            values.append(int(part, 8))
        elif re.fullmatch(r"[1-9][0-9]*", part):
            values.append(int(part))
        else:
            return None
    *leading, last = values
    if any(v > 0xFF for v in leading) or last >= 1 << (8 * (4 - len(leading))):
        return None
    number = last
    for i, value in enumerate(leading):
        number |= value << (8 * (3 - i))
    return ipaddress.IPv4Address(number)


def normal_host(host: str) -> str:
    """A host as the resolver takes it: lower case, without brackets or trailing dots (``localhost.`` is
    ``localhost``); an IPv4 in any numeric spelling written dotted-decimal."""
    name = host.strip().lower().removeprefix("[").removesuffix("]").rstrip(".")
    ipv4 = parse_ipv4(name)
    return str(ipv4) if ipv4 is not None else name


def is_allowed(host: str, allowed_hosts: Iterable[str]) -> bool:
    """``host`` is one of ``SNP_WEBHOOK_ALLOWED_HOSTS``, however either is spelt."""
    return normal_host(host) in {normal_host(h) for h in allowed_hosts}


def is_public(address: str) -> bool:
    """An address (any spelling of IPv4, IPv6 with or without a zone) is on the public internet: for one
    that embeds an IPv4, that IPv4 decides (each of them, for Teredo)."""
    literal = normal_host(address.split("%", 1)[0])
    ip = ipaddress.ip_address(literal)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in NAT64_LOCAL:
            return False
        inner = embedded_ipv4(ip)
        if inner:
            return all(v4.is_global and not v4.is_multicast for v4 in inner)
    return ip.is_global and not ip.is_multicast


def literal_address(host: str) -> str | None:
    """The address ``host`` spells, if it is an address rather than a name."""
    name = normal_host(host)
    try:
        return str(ipaddress.ip_address(name.split("%", 1)[0]))
    except ValueError:
        return None


def check_url(url: str, *, allowed_hosts: Iterable[str], allow_plain_http: bool) -> None:
    """Refuse (ValueError, said for the client) a webhook URL the relay must not post to."""
    parts = urlsplit(url)
    host = normal_host(parts.hostname or "")
    allowed = is_allowed(host, allowed_hosts)
    if parts.scheme != "https" and not (parts.scheme == "http" and (allow_plain_http or allowed)):
        raise ValueError("must be an https URL (plain http only in development)")
    if allowed:
        return
    if not host:
        raise InternalTarget("the URL names no host")
    if literal_address(host) is not None and not is_public(host):
        raise InternalTarget(f"{host} is not a public address")
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise InternalTarget(f"{host} is not a public host")


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's own backend, dialling only public addresses, resolved here and dialled as such."""

    def __init__(self, allowed_hosts: Iterable[str]) -> None:
        self.allowed = {normal_host(h) for h in allowed_hosts}
        self.inner = AutoBackend()

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        if is_allowed(host, self.allowed):
            return await self.inner.connect_tcp(host, port, timeout, local_address, socket_options)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            # Said as httpx says a failed connection: the caller's one error type covers it.
            raise Unresolved(f"{host} does not resolve: {exc}") from exc
        addresses = [str(info[4][0]) for info in infos]
        internal = [a for a in addresses if not is_public(a)]
        if not addresses or internal:
            raise NonPublic(f"refused: {host} resolves to a non-public address")
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
