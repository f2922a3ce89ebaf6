from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from pydantic import AfterValidator, Field, HttpUrl, StrictBool

from app.http.schemas import Input, Schema
from app.notifications.service import WebhookDelivery
from app.reference.identifiers import ADELI, RPPS, MssanteAddress, Phone
from app.reference.nomenclatures import MEDECIN, check

PROFESSION = "ANS nomenclature TRE-G15 (10 médecin, 40 chirurgien-dentiste, 50 sage-femme, 60 infirmier, " \
             "70 masseur-kinésithérapeute…)"
SPECIALTY = "ANS nomenclature TRE-R38 spécialité ordinale (SM54 médecine générale; SI01-SI05 infirmier en pratique " \
            "avancée…)."
ProfessionCode = Annotated[str, Field(pattern=r"^[0-9]{2}$", description=PROFESSION),
                           AfterValidator(lambda code: check("G15", code))]
SpecialtyCode = Annotated[str, Field(pattern=r"^S[A-Z]{1,2}[0-9]{2}$"), AfterValidator(lambda code: check("R38", code))]
Language = Annotated[str, Field(pattern=r"^[a-z]{2}$", description="ISO 639-1 code: fr, en, ar…")]
Languages = Annotated[list[Language], Field(min_length=1, max_length=20, description="languages the patient may "
                                            "speak with the practitioner (ISO 639-1)")]

PHONE = ("where the regulation calls the practitioner (to agree an over-capacity appointment): 6 to 19 digits, "
         "optionally after a +; kept without separators")
SITE_IDS = ("the practitioner's own sites, each in a territory he serves (or a CPTS under one): over-capacity "
            "appointments are recorded only there. An unknown site or one outside his territories is 422 naming "
            "`site_ids`")
SiteIds = Annotated[list[uuid.UUID], Field(max_length=50, description=SITE_IDS)]

ADELI_NUMBER = ("the practitioner's ADELI number, where he has one (9 characters: the département, 2A or 2B in "
                "Corsica, then 7 digits): the national platform and agendas may name him by it (0 + ADELI) as by "
                "his RPPS (8 + RPPS). One practitioner per ADELI (409 otherwise)")

MSSANTE = ("the practitioner's secure-messaging (MSSanté) address: where a visit's report goes when a call names him "
           "as the patient's médecin traitant")

OVER_CAPACITY = ("Agrees to be asked for over-capacity appointments (rendez-vous en surnuméraire) outside the "
                 "published slots")


class PractitionerCreate(Input):
    rpps: RPPS
    adeli: ADELI | None = Field(default=None, description=ADELI_NUMBER)
    family_name: str = Field(min_length=1, max_length=100)
    given_name: str = Field(min_length=1, max_length=100)
    specialty: str = Field(default="Médecine générale", min_length=1, max_length=100,
                           description="free-text label, as before; the codes below are what software reads")
    profession_code: ProfessionCode = MEDECIN
    specialty_code: SpecialtyCode | None = Field(
        default=None, description=SPECIALTY + " Default: SM54 for a doctor whose label is Médecine générale")
    languages: Languages = Field(default_factory=lambda: ["fr"])
    territory_codes: list[str] = Field(min_length=1, max_length=50)
    accepts_over_capacity: StrictBool = Field(default=False, description=OVER_CAPACITY)
    phone: Phone | None = Field(default=None, description=PHONE)
    site_ids: SiteIds = Field(default_factory=list)
    mssante_address: MssanteAddress | None = Field(default=None, description=MSSANTE)


class PractitionerRead(Schema):
    id: uuid.UUID
    rpps: str
    adeli: str | None = Field(default=None, description=ADELI_NUMBER)
    family_name: str
    given_name: str
    specialty: str
    profession_code: str = MEDECIN
    profession: str | None = Field(default=None, description="the TRE-G15 label of profession_code")
    specialty_code: str | None = None
    specialty_label: str | None = Field(default=None, description="the TRE-R38 label of specialty_code")
    languages: list[str] = Field(default_factory=lambda: ["fr"])
    territory_codes: list[str]
    webhook_url: str | None = None
    webhook_delivery: WebhookDelivery | None = Field(
        default=None, description="How the relay fares with the webhook: consecutive failures, last error, next "
                                  "attempt. Shown to the practitioner himself and to administrators, when a "
                                  "webhook is registered")
    accepts_over_capacity: bool = Field(default=False, description=OVER_CAPACITY)
    phone: str | None = Field(default=None, description=PHONE)
    site_ids: list[uuid.UUID] = Field(default_factory=list, description=SITE_IDS)
    mssante_address: str | None = Field(default=None, description=MSSANTE)
    created_at: dt.datetime


class WebhookSet(Input):
    url: HttpUrl
    secret: str = Field(min_length=16, max_length=200, description="HMAC-SHA256 key for X-SNP-Signature")


class PractitionerSettings(Input):
    """A practitioner's settings, by himself or an administrator (PATCH: a field left out is left as it is;
    `phone: null` removes the phone, `site_ids: []` all his sites)."""

    accepts_over_capacity: StrictBool | None = Field(default=None, description=OVER_CAPACITY)
    languages: Languages | None = None
    phone: Phone | None = Field(default=None, description=PHONE)
    site_ids: SiteIds | None = None
    mssante_address: MssanteAddress | None = Field(default=None, description=MSSANTE + " (null removes it)")


class PractitionerAdminSettings(PractitionerSettings):
    """What an administrator sets of a practitioner: his settings, and his ADELI number (an identity the
    national systems name him by: set by an administrator only; `adeli: null` removes it)."""

    adeli: ADELI | None = Field(default=None, description=ADELI_NUMBER)
