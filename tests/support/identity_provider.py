"""A local OpenID Connect provider shaped like Pro Santé Connect, served by uvicorn on loopback: discovery,
JWKS, authorization code with PKCE (S256 only) and a confidential client. Its access tokens carry what
PSC's carry — an opaque subject and the national id (8 + RPPS) in ``preferred_username`` — and, to prove
that the service ignores them, the ``role`` and ``territories`` claims of a would-be administrator."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

CLIENT_ID = "snp-console"
CLIENT_SECRET = "local-provider-secret"


@dataclass
class Card:
    """The professional who signs in at the provider (the CPS card, or e-CPS, in the reader)."""

    subject: str = field(default_factory=lambda: f"f:{uuid.uuid4()}")
    rpps: str | None = None
    # A national id of another form than 8 + RPPS ("3456780581/11242343"): carried as given.
    national_id: str | None = None


@dataclass
class Provider:
    base: str = ""
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(public_exponent=65537,
                                                                                      key_size=2048))
    kid: str = "psc-local-1"
    card: Card = field(default_factory=Card)
    redirect_uris: set[str] = field(default_factory=set)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Refresh tokens given and not yet used (each is used once: the provider rotates them), and how long
    # its access tokens live.
    refresh_tokens: dict[str, Card] = field(default_factory=dict)
    access_ttl: int = 600

    @property
    def issuer(self) -> str:
        return self.base + "/auth/realms/esante-wallet"

    def token(self, card: Card | None = None, ttl: int = 600, **extra: Any) -> str:
        card = card or self.card
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer, "sub": card.subject, "aud": CLIENT_ID, "azp": CLIENT_ID, "typ": "Bearer",
            "iat": now, "exp": now + ttl, "jti": secrets.token_hex(8), "scope": "openid scope_all", "acr": "eidas1",
            # What the service must not trust: a provider that does not set rights cannot grant them.
            "role": "admin", "territories": ["36", "18", "974"],
        }
        if card.national_id:
            claims["preferred_username"] = card.national_id
        elif card.rpps:
            claims["preferred_username"] = "8" + card.rpps
        claims.update(extra)
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})

    def _tokens(self, card: Card) -> dict[str, Any]:
        refresh = secrets.token_urlsafe(32)
        self.refresh_tokens[refresh] = card
        return {"access_token": self.token(card, ttl=self.access_ttl), "token_type": "Bearer",
                "expires_in": self.access_ttl, "id_token": self.token(card), "refresh_token": refresh,
                "refresh_expires_in": 1800}

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        public.update(kid=self.kid, use="sig", alg="RS256")
        return {"keys": [public]}

    def app(self) -> Starlette:
        async def discovery(request: Request) -> Response:
            return JSONResponse({
                "issuer": self.issuer,
                "authorization_endpoint": self.base + "/auth",
                "token_endpoint": self.issuer + "/protocol/openid-connect/token",
                "jwks_uri": self.issuer + "/protocol/openid-connect/certs",
                "response_types_supported": ["code"], "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            })

        async def certs(request: Request) -> Response:
            return JSONResponse(self.jwks())

        async def authorize(request: Request) -> Response:
            q = request.query_params
            if q.get("client_id") != CLIENT_ID or q.get("response_type") != "code":
                return JSONResponse({"error": "unauthorized_client"}, status_code=400)
            if q.get("redirect_uri") not in self.redirect_uris:
                return JSONResponse({"error": "invalid_redirect_uri"}, status_code=400)
            if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
                return JSONResponse({"error": "invalid_request", "error_description": "PKCE S256 required"},
                                    status_code=400)
            code = secrets.token_urlsafe(24)
            self.codes[code] = {"challenge": q["code_challenge"], "redirect_uri": q["redirect_uri"],
                                "card": self.card, "at": time.monotonic()}
            return RedirectResponse(q["redirect_uri"] + "?" + urlencode({"code": code, "state": q.get("state", "")}),
                                    status_code=302)

        async def token(request: Request) -> Response:
            expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if request.headers.get("authorization") != expected:
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            form = await request.form()
            if form.get("grant_type") == "refresh_token":
                card = self.refresh_tokens.pop(str(form.get("refresh_token")), None)
                if card is None:
                    return JSONResponse({"error": "invalid_grant"}, status_code=400)
                return JSONResponse(self._tokens(card))
            grant = self.codes.pop(str(form.get("code")), None)  # a code is used once
            if form.get("grant_type") != "authorization_code" or grant is None:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            if form.get("redirect_uri") != grant["redirect_uri"]:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            verifier = str(form.get("code_verifier", ""))
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if challenge != grant["challenge"]:
                return JSONResponse({"error": "invalid_grant", "error_description": "PKCE verification failed"},
                                    status_code=400)
            return JSONResponse(self._tokens(grant["card"]))

        return Starlette(routes=[
            Route("/auth/realms/esante-wallet/.well-known/openid-configuration", discovery),
            Route("/auth/realms/esante-wallet/protocol/openid-connect/certs", certs),
            Route("/auth", authorize),
            Route("/auth/realms/esante-wallet/protocol/openid-connect/token", token, methods=["POST"]),
        ])

    def settings(self) -> dict[str, Any]:
        """The service's settings for this provider (as SNP_* environment values, or a settings update)."""
        return {"oidc_issuer": self.issuer, "oidc_jwks_url": self.issuer + "/protocol/openid-connect/certs",
                "oidc_client_id": CLIENT_ID, "oidc_client_secret": CLIENT_SECRET, "oidc_audience": CLIENT_ID,
                "oidc_scope": "openid scope_all"}

    def environment(self) -> dict[str, str]:
        return {"SNP_" + k.upper(): str(v) for k, v in self.settings().items()}


@contextmanager
def running_provider() -> Iterator[Provider]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    provider = Provider(base=f"http://127.0.0.1:{port}")
    server = uvicorn.Server(uvicorn.Config(provider.app(), host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the local identity provider did not start")
        time.sleep(0.02)
    try:
        yield provider
    finally:
        server.should_exit = True
        thread.join(timeout=10)
