from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import Field

from app.http.schemas import Input, Schema
from app.reference.identifiers import FINESS, InseeCode, Phone, Postcode

# The organisation a site belongs to: cabinet, maison de santé pluriprofessionnelle, centre de soins non
# programmés, centre de santé, SOS Médecins, maison médicale de garde.
SiteKind = Literal["cabinet", "msp", "csnp", "centre_sante", "sos_medecins", "mmg"]
SITE_FINESS = ("the FINESS of the structure the site is (an MSP, a centre de santé, SOS Médecins…), where it has one: "
               "an appointment there names this organization to the SAMU (RS-SAS-RDV), never the CPTS's")


class SiteCreate(Input):
    name: str = Field(min_length=1, max_length=200)
    kind: SiteKind
    address: str = Field(min_length=1, max_length=300)
    postcode: Postcode
    insee_code: InseeCode | None = None
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    territory_code: str
    phone: Phone | None = Field(default=None, description="the site's phone (6 to 19 digits, optionally after a +; "
                                                          "kept without separators)")
    finess: FINESS | None = Field(default=None, description=SITE_FINESS)


class SiteRead(Schema):
    id: uuid.UUID
    name: str
    kind: str
    address: str
    postcode: str
    insee_code: str | None
    lat: float
    lon: float
    territory_code: str
    phone: str | None = None
    finess: str | None = Field(default=None, description=SITE_FINESS)
    created_at: dt.datetime
