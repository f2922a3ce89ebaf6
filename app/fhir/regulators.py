"""The regulator accounts of the national platform as the guide exchanges them (INT_R02, profile
FrPractitionerRegul): the resource read (identifiers, active, names, e-mail, ``meta.source``) into the
account app/users/accounts.py keeps, and the account written back as the resource.

The profile, checked here: ``identifier`` 1..*, sliced by system — the national id (IDNPS, system
``urn:oid:1.2.250.1.71.4.2.1``, kept as given: ``3456780581/11242343``, ``810002673899``) and the SAS
technical id (INTRN, ``urn:oid:1.2.250.1.213.3.6``, a UUID as the guide's FAQ says), each at most once;
``active`` 1..1; ``name.family`` and ``name.given`` 1..1; ``telecom.system`` = email; ``meta.source`` =
``urn:oid:1.2.250.1.213.3.6``. Any other element is accepted and ignored.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Literal

from pydantic import Field

from app.auth.models import User
from app.fhir import resources as r
from app.fhir.appointments import SAS_TECHNICAL_ID, Identifier, _Open
from app.platform.errors import BadRequest, Unprocessable
from app.users.accounts import PlatformAccount

PROFILE = r.REGULATOR_PROFILE
# The national id as the platform gives it (digits, letters, the "/" of the guide's examples): users.national_id.
NATIONAL_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z/._:-]{0,99}$")
SYSTEMS = {r.PS_OID: "IDNPS", SAS_TECHNICAL_ID: "INTRN"}


class Meta(_Open):
    source: str | None = Field(default=None, max_length=500)


class HumanName(_Open):
    family: str | None = Field(default=None, max_length=100)
    given: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=10)


class ContactPoint(_Open):
    system: str | None = Field(default=None, max_length=20)
    value: str | None = Field(default=None, max_length=200)


class PractitionerIn(_Open):
    """The elements of a FrPractitionerRegul we read; the rest of the resource is accepted and ignored."""

    resourceType: Literal["Practitioner"]  # noqa: N815 - FHIR's name
    id: str | None = Field(default=None, max_length=64)
    meta: Meta | None = None
    identifier: list[Identifier] = Field(min_length=1, max_length=10, description="IDNPS and/or INTRN")
    active: bool = Field(description="false: the account is disabled (the guide's deletion)")
    name: list[HumanName] = Field(min_length=1, max_length=10)
    telecom: list[ContactPoint] = Field(default_factory=list, max_length=10)


def query_identifier(value: str, field: str = "identifier") -> tuple[str | None, str | None]:
    """``system|value`` of a conditional update: (national id, technical id), one of them set."""
    system, bar, given = value.partition("|")
    if not bar or not given:
        raise BadRequest(f"{field}: system|value, system {r.PS_OID} (national id) or {SAS_TECHNICAL_ID} (SAS "
                         "technical id)", field=field)
    if system not in SYSTEMS:
        raise BadRequest(f"{field}: unknown system {system!r}: {r.PS_OID} (national id) or {SAS_TECHNICAL_ID} "
                         "(SAS technical id)", field=field)
    given = _check_value(system, given, field)
    return (given, None) if system == r.PS_OID else (None, given)


# A SAS technical id as the guide's FAQ writes it: a UUID, hyphenated (any case: kept in lower case, so that one
# id is one account whatever its spelling).
TECHNICAL_ID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")


def _check_value(system: str, value: str, field: str) -> str:
    """The value, checked, in its canonical form (a technical id in lower case)."""
    if system == r.PS_OID and not NATIONAL_ID.fullmatch(value):
        raise BadRequest(f"{field}: a national id of 1 to 100 letters, digits and / . _ : -", field=field)
    if system == SAS_TECHNICAL_ID:
        if not TECHNICAL_ID.fullmatch(value):
            raise BadRequest(f"{field}: a SAS technical id is a UUID (8-4-4-4-12 hexadecimal digits)", field=field)
        return str(uuid.UUID(value))
    return value


def account(data: PractitionerIn) -> PlatformAccount:
    """The account a FrPractitionerRegul describes, or 422 naming the element the profile refuses."""
    if data.meta is not None and data.meta.source not in (None, SAS_TECHNICAL_ID):
        raise Unprocessable(f"meta.source: the national platform's, {SAS_TECHNICAL_ID}", field="meta.source")
    ids: dict[str, str] = {}
    for index, identifier in enumerate(data.identifier):
        where = f"identifier.{index}"
        if identifier.system not in SYSTEMS:
            raise Unprocessable(f"{where}.system: {r.PS_OID} (national id, IDNPS) or {SAS_TECHNICAL_ID} (SAS "
                                "technical id, INTRN)", field=f"{where}.system")
        if not identifier.value:
            raise Unprocessable(f"{where}.value is required", field=f"{where}.value")
        codes = [c.code for c in identifier.type.coding] if identifier.type else []
        if codes and SYSTEMS[identifier.system] not in codes:
            raise Unprocessable(f"{where}.type: {SYSTEMS[identifier.system]} for the system {identifier.system}",
                                field=f"{where}.type")
        if identifier.system in ids:
            raise Unprocessable(f"{where}: one identifier of each system", field=where)
        try:
            ids[identifier.system] = _check_value(identifier.system, identifier.value, f"{where}.value")
        except BadRequest as exc:
            raise Unprocessable(str(exc), field=f"{where}.value") from None
    name = data.name[0]
    if not name.family or not name.family.strip():
        raise Unprocessable("name.0.family is required (FrPractitionerRegul)", field="name.0.family")
    if len(name.given) != 1 or not name.given[0].strip():
        raise Unprocessable("name.0.given: exactly one given name (FrPractitionerRegul)", field="name.0.given")
    for part, value in (("given", name.given[0]), ("family", name.family)):
        if not value.isprintable():
            raise Unprocessable(f"name.0.{part}: printable characters only", field=f"name.0.{part}")
    if len(f"{name.given[0].strip()} {name.family.strip()}") > 200:
        raise Unprocessable("name.0: the given and family names together hold at most 200 characters",
                            field="name.0")
    email = None
    for index, telecom in enumerate(data.telecom):
        if telecom.system not in (None, "email"):
            raise Unprocessable(f"telecom.{index}.system: email (FrPractitionerRegul)", field=f"telecom.{index}.system")
        if not telecom.value or not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", telecom.value):
            raise Unprocessable(f"telecom.{index}.value: an e-mail address", field=f"telecom.{index}.value")
        email = email or telecom.value
    return PlatformAccount(national_id=ids.get(r.PS_OID), technical_id=ids.get(SAS_TECHNICAL_ID),
                           family_name=name.family.strip(), given_name=name.given[0].strip(), email=email,
                           active=data.active)


def _identifier(code: str, system: str, value: str) -> dict[str, Any]:
    return {"type": {"coding": [{"system": r.IDENTIFIER_TYPE, "code": code}]}, "system": system, "value": value}


def resource(user: User) -> dict[str, Any]:
    """A regulator account as FrPractitionerRegul."""
    identifiers = []
    if user.national_id:
        identifiers.append(_identifier("IDNPS", r.PS_OID, user.national_id))
    elif user.rpps:  # registered here by his RPPS: his national id is 8 + RPPS
        identifiers.append(_identifier("IDNPS", r.PS_OID, "8" + user.rpps))
    if user.sas_technical_id:
        identifiers.append(_identifier("INTRN", SAS_TECHNICAL_ID, user.sas_technical_id))
    name: dict[str, Any] = {"family": user.family_name or user.display_name}
    if user.given_name:
        name["given"] = [user.given_name]
    body: dict[str, Any] = {
        "resourceType": "Practitioner", "id": str(user.id),
        "meta": {"source": SAS_TECHNICAL_ID, "profile": [PROFILE]},
        "identifier": identifiers, "active": user.active, "name": [name],
    }
    if user.email:
        body["telecom"] = [{"system": "email", "value": user.email}]
    return body
