"""The FHIR search parameters the facade reads: the patterns its routes declare (the OpenAPI document
shows them), and the parsing the patterns cannot do — a window of ``ge``/``le`` dates, the practitioners'
national identifiers (RPPS or ADELI), the includes, an appointment's ``system|value``. A value that does not parse is a
BadRequest naming the parameter (an OperationOutcome, app/http/errors.py)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Literal

from app.fhir import resources as r
from app.platform.errors import BadRequest
from app.reference.identifiers import ADELI_PATTERN

MAX_PRACTITIONERS = 25  # as the guide says
MAX_SLOTS = r.MAX_SLOTS
INCLUDES = {"Slot:schedule", "Schedule:actor", "Slot:service-type-reference", "HealthcareService:organization"}
# The offset's sign may arrive as a space: a query string decodes a literal ``+`` so, and the guide's own
# requests write it unencoded (``start=ge2024-06-12T16:20:00.000+02:00``). A space can only be that sign
# there, so it is read as ``+``, as FHIR servers do.
START = re.compile(r"^(ge|le)(\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+ -]\d{2}:\d{2}))?)$")
_RPPS = re.compile(r"^8(\d{11})$")
_ADELI = re.compile(rf"^0({ADELI_PATTERN})$")
ID = r"^[A-Za-z0-9\-.]{1,64}$"
_TOKEN = r"(urn:oid:1\.2\.250\.1\.71\.4\.2\.1\|)?[0-9A-Za-z]{1,20}"
IDENTIFIERS = rf"^{_TOKEN}(,{_TOKEN}){{0,24}}$"
Include = Literal["Slot:schedule", "Schedule:actor", "Slot:service-type-reference", "HealthcareService:organization"]
APPOINTMENT_IDENTIFIER = r"^[^|\s\x00]{1,500}\|[^|\s\x00]{1,200}$"


def includes(include: list[Include] | None, include_iterate: list[Include] | None) -> set[str]:
    """The includes asked for, ``_include`` and ``_include:iterate`` alike."""
    wanted: set[str] = set(include or []) | set(include_iterate or [])
    unknown = wanted - INCLUDES
    if unknown:
        raise BadRequest(f"_include {sorted(unknown)[0]!r} is not supported (supported: {', '.join(sorted(INCLUDES))})",
                         field="_include")
    return wanted


def window(values: list[str]) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The bounds of ``start`` (``ge<date>``, ``le<date>``, each at most once); a date alone is its whole day."""
    bounds: dict[str, dt.datetime] = {}
    for value in values:
        match = START.match(value)
        if match is None:
            raise BadRequest(f"start: {value!r} is not ge<date> or le<date> (ISO 8601)", field="start")
        try:
            moment = dt.datetime.fromisoformat(match.group(2).replace("Z", "+00:00").replace(" ", "+"))
        except ValueError as exc:
            raise BadRequest(f"start: {value!r} is not a valid date", field="start") from exc
        if not 2000 <= moment.year <= 2099:
            raise BadRequest(f"start: {value!r} lies outside the years 2000 to 2099", field="start")
        if match.group(3) is None and match.group(1) == "le":
            moment += dt.timedelta(days=1) - dt.timedelta(microseconds=1)  # a day is the whole day
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        if match.group(1) in bounds:
            raise BadRequest(f"start: {match.group(1)} given twice", field="start")
        bounds[match.group(1)] = moment
    return bounds.get("ge"), bounds.get("le")


@dataclass(frozen=True)
class NationalIds:
    """The practitioners named by their national ids: by RPPS (``8<RPPS>``) and by ADELI (``0<ADELI>``)."""

    rpps: list[str]
    adeli: list[str]

    def __bool__(self) -> bool:
        return bool(self.rpps or self.adeli)


def national_ids(value: str | None, field: str = "schedule.actor:Practitioner.identifier") -> NationalIds:
    """The RPPS and ADELI numbers of the national identifiers given (``8<RPPS>``, ``0<ADELI>``, the system
    optional); another identifier simply matches nobody."""
    if not value:
        raise BadRequest(f"{field} is required: 1 to 25 national identifiers "
                         f"({r.PS_OID}|8<RPPS> or {r.PS_OID}|0<ADELI>), comma-separated", field=field)
    tokens = [t.strip() for t in value.split(",") if t.strip()]
    if len(tokens) > MAX_PRACTITIONERS:
        raise BadRequest(f"at most {MAX_PRACTITIONERS} practitioner identifiers per request", field=field)
    found = NationalIds([], [])
    for token in tokens:
        system, _, identifier = token.rpartition("|")
        if system and system != r.PS_OID:
            raise BadRequest(f"identifier system {system!r}: only {r.PS_OID} (national PS identifiers) is served",
                             field=field)
        if match := _RPPS.match(identifier):
            found.rpps.append(match.group(1))
        elif match := _ADELI.match(identifier):
            found.adeli.append(match.group(1))
    return found


def national_id(value: str) -> tuple[Literal["rpps", "adeli"], str] | None:
    """Which registry a national id (``8<RPPS>``, ``0<ADELI>``) names, and the number; None: neither."""
    if match := _RPPS.match(value):
        return "rpps", match.group(1)
    if match := _ADELI.match(value):
        return "adeli", match.group(1)
    return None


# A Schedule's actor, as FHIR's reference search parameter takes it: Practitioner/<id>,
# PractitionerRole/<id>, either under an absolute URL, or a Practitioner's bare id.
ACTOR = r"^(\S*/)?((Practitioner|PractitionerRole)/)?[A-Za-z0-9\-.]{1,64}$"


def actor(value: str) -> tuple[uuid.UUID, uuid.UUID | None] | None:
    """The practitioner (and site, for a PractitionerRole) an ``actor`` names; None: nobody of ours."""
    kind, _, rid = value.rstrip("/").rpartition("/")
    kind = kind.rpartition("/")[2]
    if kind == "PractitionerRole":
        return r.split_role_id(rid)
    if kind not in ("", "Practitioner"):
        return None
    try:
        return uuid.UUID(rid), None
    except ValueError:
        return None


def appointment_identifier(value: str) -> tuple[str, str]:
    """The ``system|value`` of a conditional update (its pattern, APPOINTMENT_IDENTIFIER, holds one ``|``)."""
    system, _, identifier = value.partition("|")
    return system, identifier
