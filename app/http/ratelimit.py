"""Rate limits: a budget of requests per minute for each token (each client address without one), on
the expensive routes (search, booking, imports) and on failed sign-ins, shared by every instance.

Each instance counts in memory and decides alone, so no request waits on the database. About once a
second it adds what it counted to ``rate_usage`` and reads back what all instances used in the
current minute: two instances hold one budget, give or take what each accepts within one second.
Past the budget: 429 with ``Retry-After`` (the seconds left in the minute), in the API's error shape.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import Column, Integer, String, Table, text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import Scope, Send

from app.http.errors import send_error
from app.http.proxies import CLIENT_CERT_HEADER, bearer_token
from app.http.routes import Policy
from app.platform.columns import TZ
from app.platform.database import Base
from app.platform.periodic import every

WINDOW_SECONDS = 60

RATE_USAGE = Table(
    "rate_usage", Base.metadata,
    Column("key", String(200), primary_key=True), Column("window_start", TZ, primary_key=True),
    Column("used", Integer, nullable=False),
    prefixes=["UNLOGGED"],
)

AUTH_FAILURE = "auth_failure"


@dataclass
class Limiter:
    """The budgets of one instance: what all instances used at the last sync, and what this one
    accepted since."""

    per_minute: dict[str, int]
    synced: dict[str, int] = field(default_factory=dict)  # key → used by all instances (last sync)
    pending: dict[str, int] = field(default_factory=dict)  # key → accepted here since the last sync
    window: int = 0  # start of the current minute (epoch seconds)
    # address → tokens that signed in from it this minute: they pass when the address is locked out
    signed_in: dict[str, set[str]] = field(default_factory=dict)

    def _roll(self, now: float) -> None:
        window = int(now) // WINDOW_SECONDS * WINDOW_SECONDS
        if window != self.window:
            self.window, self.synced, self.pending, self.signed_in = window, {}, {}, {}

    def used(self, key: str) -> int:
        return self.synced.get(key, 0) + self.pending.get(key, 0)

    def exhausted(self, budget: str, who: str, now: float | None = None) -> bool:
        self._roll(now or time.time())
        return self.used(f"{budget}:{who}") >= self.per_minute[budget]

    def take(self, budget: str, who: str, now: float | None = None) -> bool:
        """Count one request; False (and nothing counted) when the budget is spent."""
        self._roll(now or time.time())
        key = f"{budget}:{who}"
        if self.used(key) >= self.per_minute[budget]:
            return False
        self.pending[key] = self.pending.get(key, 0) + 1
        return True

    def retry_after(self, now: float | None = None) -> int:
        return max(1, self.window + WINDOW_SECONDS - int(now or time.time()))

    async def sync(self, engine: AsyncEngine) -> None:
        """Add what this instance counted to the shared table; read back what all instances used."""
        self._roll(time.time())
        pending, self.pending = self.pending, {}
        window = self.window
        try:
            async with engine.begin() as conn:
                if pending:
                    await conn.execute(text("""
                        INSERT INTO rate_usage (key, window_start, used)
                        SELECT k, to_timestamp(:window), n
                        FROM unnest(CAST(:keys AS text[]), CAST(:counts AS int[])) AS p(k, n)
                        ON CONFLICT (key, window_start) DO UPDATE SET used = rate_usage.used + excluded.used
                    """), {"window": window, "keys": list(pending), "counts": list(pending.values())})
                rows = await conn.execute(text(
                    "SELECT key, used FROM rate_usage WHERE window_start = to_timestamp(:window)"
                ), {"window": window})
                synced = {r[0]: r[1] for r in rows}
                await conn.execute(text("DELETE FROM rate_usage WHERE window_start < to_timestamp(:window)"),
                                   {"window": window})
        except Exception:
            for key, count in pending.items():  # counted again at the next sync
                self.pending[key] = self.pending.get(key, 0) + count
            raise
        if window == self.window:
            self.synced = synced


def _address(scope: Scope) -> str:
    client = scope.get("client")
    return "a" + (client[0] if client else "unknown")


def _who(scope: Scope) -> str:
    """The bearer token (hashed: never kept), however its scheme is spelt; without one, the client certificate
    a trusted front verified (the national platform's mutual TLS: its own budget, not its front's address,
    which every client of that front shares; ``Proxies`` dropped the header of any other peer); else the client
    address: a header that carries no bearer token is no key of its own."""
    certificate = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            token = bearer_token(value)
            if token is not None:
                return "t" + hashlib.sha256(token.encode("latin-1")).hexdigest()[:24]
        elif name == CLIENT_CERT_HEADER and value:
            certificate = value
    if certificate is not None:
        return "c" + hashlib.sha256(certificate).hexdigest()[:24]
    return _address(scope)


@dataclass(frozen=True, slots=True)
class Admitted:
    """A request within its budgets: who it counts for, to learn from its answer (``Limiter.answered``)."""

    address: str
    who: str


def admit(limiter: Limiter, scope: Scope, policy: Policy) -> Admitted | str:
    """Count the request against its route's budget: who it counts for, or what was spent (a 429's text).

    An address that failed to sign in too often is refused before any token is checked, except for the
    tokens that signed in from it this minute (colleagues behind one hospital address)."""
    address, who = _address(scope), _who(scope)
    if limiter.exhausted(AUTH_FAILURE, address) and who not in limiter.signed_in.get(address, set()):
        return "failed sign-ins from this address"
    if policy.by_address:
        who = address  # a public route: any Authorization header sent there is not checked, so not trusted
    if policy.budget is not None and not limiter.take(policy.budget, who):
        return f"{policy.budget} requests"
    return Admitted(address, who)


def answered(limiter: Limiter, admitted: Admitted, status: int) -> None:
    """What an answer teaches: a 401 is a failed sign-in from the address; any other answer to a token
    means it signed in from there."""
    if status == 401:
        limiter.take(AUTH_FAILURE, admitted.address)
    elif admitted.who.startswith("t") and status not in (429, 431):
        limiter.signed_in.setdefault(admitted.address, set()).add(admitted.who)


async def too_many(send: Send, limiter: Limiter, what: str, path: str = "") -> None:
    await send_error(send, 429, "TooManyRequests", f"Too many {what} this minute: retry later", None,
                     [(b"retry-after", str(limiter.retry_after()).encode())], path=path)


def start_syncing(limiter: Limiter, engine: AsyncEngine, interval_seconds: float) -> Callable[[], Awaitable[None]]:
    """Reconcile with the other instances every ``interval_seconds`` (counts kept when a sync fails)."""
    return every(interval_seconds, lambda: limiter.sync(engine), "ratelimit.sync", stop_timeout=10)
