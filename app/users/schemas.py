from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import Field, model_validator

from app.http.schemas import Input, Schema
from app.reference.identifiers import RPPS
from app.territories.schemas import Code

UserRole = Literal["effector", "operator", "regulator", "urgences", "referrer", "analyst", "admin", "platform",
                   "coordinator"]
# An identifier as the national platform gives it: digits, letters, and the "/" of the guide's examples.
NationalId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[0-9A-Za-z][0-9A-Za-z/._:-]*$")]
ReferrerKind = Literal["pharmacist", "nurse", "medical_secretary", "social_worker", "other_professional"]


class UserCreate(Input):
    subject: str | None = Field(default=None, min_length=1, max_length=200,
                                description="the identity provider's subject (claim `sub`)")
    rpps: RPPS | None = Field(default=None, description="the RPPS the provider's tokens carry (national id 8 + "
                              "RPPS): the usual way to name a Pro Santé Connect user before the first sign-in")
    national_id: NationalId | None = Field(default=None, description="the regulator's national id (IDNPS) as the "
                                           "national platform gives it, in any form (810001234567, "
                                           "3456780581/11242343, 3620100057/70326SR): who booked, as the platform "
                                           "and the SAMU are told")
    sas_technical_id: NationalId | None = Field(default=None, description="a regulator without a national id: the "
                                                "SAS technical id the platform gave him (INTRN, "
                                                "urn:oid:1.2.250.1.213.3.6)")
    display_name: str = Field(min_length=1, max_length=200)
    family_name: str | None = Field(default=None, min_length=1, max_length=100,
                                    description="family name, as the SAMU is told of who booked (Hub Santé)")
    given_name: str | None = Field(default=None, min_length=1, max_length=100, description="given name, likewise")
    email: str | None = Field(default=None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                              description="professional e-mail, likewise")
    role: UserRole
    territories: list[Code] = Field(default_factory=list, max_length=200)
    practitioner_id: uuid.UUID | None = Field(default=None, description="effectors: the practitioner they are "
                                              "(found by RPPS when omitted)")
    referrer_kind: ReferrerKind | None = Field(default=None, description="referrers: what kind of professional")

    @model_validator(mode="after")
    def _identified(self) -> UserCreate:
        if self.subject is None and self.rpps is None:
            raise ValueError("subject: give the provider's subject, an RPPS, or both")
        if self.role == "referrer" and self.referrer_kind is None:
            raise ValueError("referrer_kind: a referrer needs its kind")
        if self.role != "referrer" and self.referrer_kind is not None:
            raise ValueError("referrer_kind: only a referrer has a kind")
        return self


class UserUpdate(Input):
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    national_id: NationalId | None = Field(default=None, description="the national id (IDNPS) as the platform gives "
                                           "it; the appointments this user booked that waited for it then go")
    sas_technical_id: NationalId | None = Field(default=None, description="the SAS technical id, likewise")
    family_name: str | None = Field(default=None, min_length=1, max_length=100,
                                    description="family name, as the SAMU is told of who booked (Hub Santé)")
    given_name: str | None = Field(default=None, min_length=1, max_length=100, description="given name, likewise")
    email: str | None = Field(default=None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                              description="professional e-mail, likewise")
    role: UserRole | None = None
    territories: list[Code] | None = Field(default=None, max_length=200)
    practitioner_id: uuid.UUID | None = None
    referrer_kind: ReferrerKind | None = None
    active: bool | None = Field(default=None, description="false: the identity can no longer sign in (the record "
                                "stays, for the audit trail)")


class UserRead(Schema):
    id: uuid.UUID
    subject: str | None
    rpps: str | None
    national_id: str | None = None
    sas_technical_id: str | None = None
    display_name: str
    family_name: str | None
    given_name: str | None
    email: str | None
    role: str
    territories: list[str]
    practitioner_id: uuid.UUID | None
    referrer_kind: str | None
    certificate_issuer: str | None = Field(default=None, description="the national platform (role platform): "
                                           "the issuer of its client certificate (mutual TLS), RFC 4514")
    certificate_cn: str | None = Field(default=None, description="likewise: its subject's CN")
    certificate_ou: str | None = Field(default=None, description="likewise: its subject's OUs (RFC 4514)")
    active: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class SignInProvider(Schema):
    issuer: str
    authorization_endpoint: str
    client_id: str
    scope: str


class SignInConfig(Schema):
    provider: SignInProvider | None = Field(description="null: no identity provider is configured")
    token_paste: bool = Field(description="a development token (`snp token`) may be pasted in the console")


class SignInRequest(Input):
    code: str = Field(min_length=1, max_length=4000, description="the authorization code the provider sent back")
    code_verifier: str = Field(min_length=43, max_length=128, pattern=r"^[A-Za-z0-9._~-]+$",
                               description="the PKCE verifier (RFC 7636) whose S256 challenge started the sign-in")
    redirect_uri: str = Field(min_length=1, max_length=2000, description="the console's address the code was sent to")
    origin: Literal["sas"] | None = Field(default=None, description=(
        "`sas` when the user arrived from the national SAS platform's link (the platform appends origin=sas to "
        "the slot's booking page): the session is then one opened from the platform, the only kind in which a "
        "regulator account the platform registered has its rights"))


class TermsRead(Schema):
    version: str = Field(description="a digest of the text: accept this version")
    text: str = Field(description="the terms of use, in French (Markdown)")


class TermsAccept(Input):
    version: str = Field(min_length=1, max_length=64, description="the version read (GET /v1/auth/terms)")


class TermsAccepted(Schema):
    version: str
    accepted_at: dt.datetime


class SignInToken(Schema):
    access_token: str
    token_type: str = "Bearer"
    expires_at: dt.datetime | None
    role: str
    display_name: str | None
    renewable: bool = Field(default=False, description="the server keeps a refresh token for this session (an "
                            "httpOnly cookie): `POST /v1/auth/refresh` gives a new token before this one expires")
