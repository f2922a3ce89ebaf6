"""Who is asking, read once, from what this deployment trusts.

A request reaches the app straight from its client or through the proxies of ``SNP_TRUSTED_PROXIES``
(addresses or networks). ``X-Forwarded-For``, ``X-Forwarded-Proto`` and ``X-Client-Cert`` mean something
only when the immediate peer is one of them: anyone else could write them. uvicorn runs with its own
proxy-header handling off (``snp serve``, the Dockerfile, the served test apps), because once it has
rewritten the client address nobody could tell a trusted proxy from a forger any more.

``Proxies.apply`` keeps the immediate peer in ``scope["state"]["peer"]`` (``request.state.peer``) and
whether it is trusted in ``peer_trusted``; behind a trusted proxy the client becomes the rightmost
``X-Forwarded-For`` entry that is not itself a trusted proxy, and the scheme ``X-Forwarded-Proto``'s.
A client-certificate header from an untrusted peer is dropped before anything reads it.

``bearer_token`` is the one reading of an ``Authorization`` header: authentication and the rate budgets
both key on what it returns, so a token has one budget whatever the spelling of its scheme.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import Scope

from app.platform.addresses import Address, Network, normalise

CLIENT_CERT_HEADER = b"x-client-cert"
# X-Forwarded-Proto → the scope's scheme, by kind of scope.
_SCHEMES = {"http": {"http": "http", "https": "https"},
            "websocket": {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}}


def bearer_token(value: str | bytes | None) -> str | None:
    """The token of ``Bearer <token>``: the scheme in any case, surrounding whitespace ignored; None for
    anything else (no header, another scheme, no token, a token with whitespace inside)."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    parts = text.split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return None
    # A JWT's segments are base64url without padding; the JWT library accepts them padded too, so a
    # padded spelling would be another budget for the same token: the padding is never part of it.
    return ".".join(segment.rstrip("=") for segment in parts[1].split("."))


def _trusted(address: Address | None, networks: Sequence[Network]) -> bool:
    return address is not None and any(address in network for network in networks)


def _header_values(scope: Scope, name: bytes) -> list[str]:
    """Every comma-separated entry of every ``name`` header, in the order they came."""
    entries: list[str] = []
    for key, value in scope["headers"]:
        if key == name:
            entries += [part.strip() for part in value.decode("latin-1").split(",")]
    return entries


def forwarded_client(peer: Address, forwarded_for: list[str], networks: Sequence[Network]) -> str:
    """The client behind a trusted ``peer``: the rightmost ``X-Forwarded-For`` entry that is not a trusted
    proxy. An entry that is not an address stops the walk at the last trusted hop (the proxy that passed it
    on is all we know); a chain of trusted proxies only gives its leftmost one."""
    hop: Address = peer
    for entry in reversed([e for e in forwarded_for if e]):
        address = normalise(entry)
        if address is None:
            return str(hop)
        if not _trusted(address, networks):
            return str(address)
        hop = address
    return str(hop)


class Proxies:
    """Applies ``SNP_TRUSTED_PROXIES`` to a request's scope (see the module's text)."""

    def __init__(self, trusted_proxies: Sequence[Network] = ()) -> None:
        self.networks = tuple(trusted_proxies)

    def apply(self, scope: Scope) -> None:
        client = scope.get("client")
        peer = normalise(client[0]) if client else None
        trusted = _trusted(peer, self.networks)
        state = scope.setdefault("state", {})
        state["peer"], state["peer_trusted"] = (str(peer) if peer else None), trusted
        if peer is not None and client is not None:
            scope["client"] = (str(peer), client[1])
        if not trusted:
            if any(name == CLIENT_CERT_HEADER for name, _ in scope["headers"]):
                scope["headers"] = [(n, v) for n, v in scope["headers"] if n != CLIENT_CERT_HEADER]
        elif peer is not None and client is not None:
            forwarded = _header_values(scope, b"x-forwarded-for")
            if forwarded:
                scope["client"] = (forwarded_client(peer, forwarded, self.networks), 0)
            proto = _header_values(scope, b"x-forwarded-proto")
            scheme = _SCHEMES[scope["type"]].get(proto[-1].lower()) if proto else None
            if scheme is not None:
                scope["scheme"] = scheme
