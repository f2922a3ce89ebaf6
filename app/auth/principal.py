"""Who is asking: the roles, and the principal a request acts as. A value type every layer may name: it
imports no FastAPI and no JWT library."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

Role = Literal["effector", "operator", "regulator", "urgences", "referrer", "analyst", "admin", "platform",
               "coordinator"]
# platform: the national SAS platform, reading every territory's slots through the FHIR facade.
# coordinator: a CPTS's coordinator, who finds a médecin traitant for the patients without one (app/mt),
# walled to his territories as a regulator is.
ROLES: tuple[str, ...] = ("effector", "operator", "regulator", "urgences", "referrer", "analyst", "admin",
                          "platform", "coordinator")
# What a referrer is (a city professional referring patients to the SAS); the kind of a referrer's
# token comes from the user's record at the identity provider (claim ``referrer_kind``).
REFERRER_KINDS: tuple[str, ...] = ("pharmacist", "nurse", "medical_secretary", "social_worker",
                                   "other_professional")


@dataclass(frozen=True)
class Principal:
    sub: str
    role: str
    territories: tuple[str, ...] = field(default_factory=tuple)
    practitioner_id: uuid.UUID | None = None
    referrer_kind: str | None = None
    expires_at: float | None = None  # the token's exp (seconds since 1970)
    display_name: str | None = None  # from the users registry (identity provider's users)
    # What the user must do before any right holds: ``terms`` (accept our terms of use, at the first sign-in
    # of an account the national platform registered). Only who he is and the terms are his meanwhile.
    pending: str | None = None
    user_id: uuid.UUID | None = None  # the users registry's account (identity provider's users)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class Identity:
    """Who a token of the identity provider says the user is; the rights are looked up in the registry."""

    subject: str
    rpps: str | None
    expires_at: float
    # The national id the token carries, whole and as given ("810001234567", "3456780581/11242343"): the
    # national platform's regulator accounts are known by it.
    national_id: str | None = None
    # The token's SHA-256: a session opened from the national platform (origin=sas) is known by it.
    token_digest: bytes = b""
