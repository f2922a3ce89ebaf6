"""Bearer JWT: 401 for missing/expired/forged tokens, 403 for a wrong role, OIDC via JWKS."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import httpx
import jwt
import pytest

from app.auth.tokens import create_token
from app.platform.config import DEV_JWT_SECRET, Settings
from tests.support.database import PRODUCTION_KEYS


class TestBearerTokens:
    async def test_a_request_without_token_is_401_with_the_error_model(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/territories")
        assert response.status_code == 401
        assert response.json()["error"] == "Unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"

    async def test_an_expired_token_is_401(self, client, settings) -> None:
        token = create_token(settings, role="admin", ttl_seconds=-60)
        response = await client.get("/v1/territories", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert "expired" in response.json()["detail"].lower()

    async def test_a_token_verified_before_is_refused_once_it_expires(self, client, settings) -> None:
        token = create_token(settings, role="admin", ttl_seconds=2)
        headers = {"Authorization": f"Bearer {token}"}
        assert (await client.get("/v1/territories/36", headers=headers)).status_code == 200
        await asyncio.sleep(2.2)
        assert (await client.get("/v1/territories/36", headers=headers)).status_code == 401

    async def test_a_token_signed_with_another_secret_is_401(self, client, settings) -> None:
        forged = create_token(settings.model_copy(update={"jwt_secret": "x" * 40}), role="admin")
        response = await client.get("/v1/territories", headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401

    async def test_a_token_with_an_unknown_role_is_401(self, client, settings) -> None:
        claims = {"sub": "u", "role": "superuser", "iss": settings.jwt_issuer, "exp": int(time.time()) + 60}
        token = jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
        response = await client.get("/v1/territories", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401

    async def test_a_token_without_a_real_subject_is_401(self, client, settings) -> None:
        # The subject is who did what in the audit trail: an empty one used to be recorded as ''.
        for sub in ("", "   ", 42, "x" * 201):
            claims = {"sub": sub, "role": "admin", "iss": settings.jwt_issuer, "exp": int(time.time()) + 60}
            token = jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
            response = await client.get("/v1/territories", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401, sub

    async def test_a_wrong_role_is_403(self, client, auth) -> None:
        body = {"code": "36-x", "name": "X", "kind": "cpts", "parent_code": "36", "timezone": "Europe/Paris"}
        response = await client.post("/v1/territories", json=body, headers=auth("operator", ["36"]))
        assert response.status_code == 403
        assert response.json()["error"] == "Forbidden"

    def test_an_effector_token_needs_a_practitioner(self, settings) -> None:
        with pytest.raises(ValueError):
            create_token(settings, role="effector")


class TestProductionMode:
    def test_settings_refuse_the_development_secret_in_production(self) -> None:
        with pytest.raises(ValueError, match="development secret"):
            Settings(env="production", jwt_secret=DEV_JWT_SECRET)

    def test_the_app_does_not_start_in_production_with_the_development_secret(self) -> None:
        env = {**os.environ, "SNP_ENV": "production", "SNP_JWT_SECRET": DEV_JWT_SECRET}
        result = subprocess.run(
            [sys.executable, "-c", "import app.main"], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode != 0
        assert "development secret" in result.stderr

    def test_production_with_a_real_secret_starts(self) -> None:
        assert Settings(env="production", jwt_secret="s" * 48, **PRODUCTION_KEYS).env == "production"

    def test_production_refuses_the_development_identity_keys(self) -> None:
        with pytest.raises(ValueError, match="development keys"):
            Settings(env="production", jwt_secret="s" * 48)


# Tokens of an identity provider (Pro Santé Connect): tests/users/test_identities.py.


def test_production_with_an_identity_provider_needs_its_own_key_for_self_referral_links():
    import pytest as _pytest

    from app.platform.config import Settings as _Settings

    # The key of every signed link (self-referral and the patient's cancel links); its first name still works.
    with _pytest.raises(ValueError, match="SNP_LINK_SECRET"):
        _Settings(env="production", oidc_jwks_url="https://idp.example/jwks", oidc_issuer="https://idp.example")
    ok = _Settings(env="production", oidc_jwks_url="https://idp.example/jwks", oidc_issuer="https://idp.example",
                   self_referral_secret="s" * 40, **PRODUCTION_KEYS)
    assert ok.link_secret == "s" * 40
    renamed = _Settings(env="production", oidc_jwks_url="https://idp.example/jwks", oidc_issuer="https://idp.example",
                        SNP_LINK_SECRET="l" * 40, **PRODUCTION_KEYS)
    assert renamed.link_secret == "l" * 40
