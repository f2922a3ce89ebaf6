"""SMART Scheduling Links: the free SNP capacity as a bulk publication an aggregator polls cheaply.

``GET /fhir/$bulk-publish`` answers the manifest (``transactionTime``, ``request``, ``output``: for each
département of the caller's territories, its Location, Schedule and Slot files in NDJSON, marked with
the ISO 3166-2 code of the département in ``extension.state``); each file is
``GET /fhir/$bulk-publish/{département}/{locations|schedules|slots}.ndjson``. Both carry an ETag and
answer ``304`` to a matching ``If-None-Match``: an aggregator polling every minute downloads only what
changed; a ``Cache-Control: max-age`` of ``SNP_BULK_PUBLISH_SECONDS`` says how long a copy stays fresh
(private: the files need a token). SNP slots are for regulated patients: every file needs a token, and
shows the slots the caller's role may book (a published slot ``free``, a booked one ``busy``), never a patient.

A publication is built once per scope and kept ``SNP_BULK_PUBLISH_SECONDS`` (60) by each instance: the
data are at most that old, and a crowd of pollers costs one query a minute.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.fhir import repository
from app.fhir import resources as r
from app.platform.config import Settings

KINDS = ("locations", "schedules", "slots")
TYPES = {"locations": "Location", "schedules": "Schedule", "slots": "Slot"}
SERVICE_TYPE = "http://terminology.hl7.org/CodeSystem/service-type"
KEPT = 64  # the scopes a cache holds; one more and it starts again
# A scope: the territories the caller sees (None: every one), sorted, and the bookers he books as.
Key = tuple[tuple[str, ...] | None, int]


@dataclass(frozen=True)
class File:
    body: bytes
    etag: str


@dataclass(frozen=True)
class Publication:
    transaction_time: str
    departements: tuple[str, ...]
    files: dict[tuple[str, str], File]
    built: float

    @property
    def etag(self) -> str:
        digest = hashlib.sha256("|".join(f"{d}/{k}:{f.etag}" for (d, k), f in sorted(self.files.items())).encode())
        return f'"{digest.hexdigest()[:32]}"'


def _ndjson(resources: list[dict[str, Any]]) -> File:
    body = "".join(json.dumps(x, ensure_ascii=False, separators=(",", ":")) + "\n" for x in resources).encode()
    return File(body, f'"{hashlib.sha256(body).hexdigest()[:32]}"')


def state(departement: str) -> str:
    return f"FR-{departement}"


# The regulation's number, the Location's telecom when the site has no phone of its own: SMART requires
# one, and an SNP slot is reached through the regulation anyway.
REGULATION_PHONE = "116117"


def _location(row: Any) -> dict[str, Any]:
    """A site, with what SMART Scheduling Links requires of a Location: name, telecom, address (with its
    city), and an identifier (the site's id under our system, as in the guide's PractitionerRole)."""
    address = {"line": [row["address"]], "postalCode": row["postcode"], "district": row["departement"],
               "state": state(row["departement"]), "country": "FR"}
    if row["city"]:
        address["city"] = row["city"]
    return {"resourceType": "Location", "id": str(row["site_id"]), "name": row["name"],
            "identifier": [{"system": r.SITE_SYSTEM, "value": str(row["site_id"])}],
            "telecom": [{"system": "phone", "value": row["phone"] or REGULATION_PHONE}],
            "address": address, "position": {"latitude": row["lat"], "longitude": row["lon"]},
            "description": "Créneaux de soins non programmés du SAS : réservés par la régulation, sur appel au 15 "
                           "ou au 116 117"}


def _schedule_id(row: Any) -> str:
    """A site and a mode (a FHIR id: letters, digits, '-' and '.')."""
    return f"{row['site_id']}-{r.MODES[row['mode']][0].lower()}"


def _schedule(row: Any) -> dict[str, Any]:
    code, display = r.MODES[row["mode"]]
    return {"resourceType": "Schedule", "id": _schedule_id(row),
            "serviceType": [{"coding": [{"system": SERVICE_TYPE, "code": "124", "display": "General Practice"}]},
                            {"coding": [{"system": r.ACT_CODE, "code": code, "display": display}]}],
            "actor": [{"reference": f"Location/{row['site_id']}"}]}


def _slot(row: Any) -> dict[str, Any]:
    return {"resourceType": "Slot", "id": str(row["id"]),
            "schedule": {"reference": f"Schedule/{_schedule_id(row)}"},
            "status": "free" if row["status"] == "free" else "busy",
            "start": row["start_at"].isoformat(), "end": row["end_at"].isoformat()}


async def build(session: AsyncSession, *, codes: list[str] | None, departements: list[str], bookers: int,
                horizon_days: int) -> Publication:
    """Every file of the scope, from one query."""
    grouped: dict[str, dict[str, dict[str, dict[str, Any]]]] = defaultdict(lambda: {k: {} for k in KINDS})
    for row in await repository.published(session, codes=codes, bookers=bookers, horizon_days=horizon_days):
        files = grouped[row["departement"]]
        files["locations"].setdefault(str(row["site_id"]), _location(row))
        schedule = _schedule(row)
        files["schedules"].setdefault(schedule["id"], schedule)
        files["slots"][str(row["id"])] = _slot(row)
    out = {(d, kind): _ndjson(list(grouped[d][kind].values()) if d in grouped else [])
           for d in departements for kind in KINDS}
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return Publication(now, tuple(departements), out, time.monotonic())


async def publication(session: AsyncSession, cache: dict[Key, Publication], settings: Settings, *,
                      codes: list[str] | None, bookers: int) -> Publication:
    """The publication of a scope from ``cache``: built once per scope every SNP_BULK_PUBLISH_SECONDS."""
    key = (tuple(codes) if codes is not None else None, bookers)
    found = cache.get(key)
    if found is not None and time.monotonic() - found.built < settings.bulk_publish_seconds:
        return found
    built = await build(session, codes=codes, departements=await repository.departements(session, codes),
                        bookers=bookers, horizon_days=settings.slot_horizon_days)
    if len(cache) >= KEPT:
        cache.clear()
    cache[key] = built
    return built


def manifest(publication: Publication, base: str) -> dict[str, Any]:
    return {
        "transactionTime": publication.transaction_time,
        "request": f"{base}/fhir/$bulk-publish",
        "output": [{"type": TYPES[kind], "url": f"{base}/fhir/$bulk-publish/{d}/{kind}.ndjson",
                    "extension": {"state": [state(d)]}}
                   for d in publication.departements for kind in KINDS],
        "error": [],
    }
