"""Agenda sync, the other way: a doctor whose agenda editor already serves the ANS guide's slot search
keeps one agenda. We run the national platform's search against the editor (with a FHIR client), publish
the free SNP slots we do not have yet, withdraw ours from that agenda that it no longer offers, give back
those it offers again, and never touch a slot booked here.

Slots synced are ``source = 'fhir'``, keyed by the editor's address and slot id (``source_key``), so a
second run changes nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from fhirpy import AsyncFHIRClient
from sqlalchemy import bindparam, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import Conflict, NotFound, Unavailable, Unprocessable
from app.fhir import resources as r
from app.logging import log
from app.slots import service
from app.slots.repository import WITHDRAWABLE
from app.slots.schemas import Rejection

# The guide's modes (ActCode) back to ours.
MODES = {code: mode for mode, (code, _) in r.MODES.items()}
PAGE = 100


@dataclass
class SyncReport:
    offered: int = 0  # free slots the editor offers in the window
    published: int = 0
    reopened: int = 0  # withdrawn here, offered again there
    withdrawn: int = 0
    unchanged: int = 0
    kept_booked: int = 0  # gone from the editor, booked here: the patient keeps his appointment
    refused: list[dict[str, Any]] = field(default_factory=list)  # offered there, impossible here (why)


def _mode(slot: dict[str, Any]) -> str:
    for concept in slot.get("serviceType") or []:
        for coding in concept.get("coding") or []:
            if coding.get("system") == r.ACT_CODE and coding.get("code") in MODES:
                return MODES[coding["code"]]
    return "in_person"


async def remote_free_slots(source: str, rpps: str, start: dt.datetime, end: dt.datetime,
                            token: str | None) -> list[dict[str, Any]]:
    """The editor's free slots of the practitioner, by the guide's search, every page."""
    client = AsyncFHIRClient(source.rstrip("/"), authorization=f"Bearer {token}" if token else None)
    search = client.resources("Slot").search(
        start=[f"ge{start.isoformat()}", f"le{end.isoformat()}"], status="free",
        **{"schedule.actor:Practitioner.identifier": f"{r.PS_OID}|8{rpps}"}).limit(PAGE)
    try:
        found = await search.fetch_all()
    except Exception as exc:  # noqa: BLE001 - an editor that cannot be read is reported, nothing changes
        raise Unavailable(f"The agenda at {source} cannot be read: {type(exc).__name__}") from exc
    return [resource.serialize() for resource in found]


async def sync(session: AsyncSession, settings: Settings, *, source: str, practitioner_id: uuid.UUID,
               site_id: uuid.UUID | None, token: str | None) -> SyncReport:
    """Bring the practitioner's synced slots here in line with the editor's free ones (horizon window)."""
    doctor = (await session.execute(text("SELECT id, rpps FROM practitioners WHERE id = :id"),
                                    {"id": practitioner_id})).mappings().first()
    if doctor is None:
        raise NotFound(f"Practitioner {practitioner_id} not found", field="practitioner")
    site_id = site_id or await _only_site(session, practitioner_id)
    await service.site_for(session, practitioner_id, site_id)
    now = service.now_utc()
    end = service.horizon_end(settings, now)
    offered = await remote_free_slots(source, doctor["rpps"], now, end, token)
    prefix = source.rstrip("/") + "/Slot/"
    report = SyncReport(offered=len(offered))
    keys: dict[str, dict[str, Any]] = {}
    for slot in offered:
        if slot.get("resourceType") == "Slot" and slot.get("id"):
            keys[(prefix + str(slot["id"]))[:500]] = slot
    here = {row["source_key"]: row for row in (await session.execute(text("""
        SELECT id, source_key, status FROM slots
        WHERE practitioner_id = :p AND source = 'fhir' AND source_key LIKE :prefix AND start_at > now()"""),
        {"p": practitioner_id, "prefix": prefix.replace("%", r"\%").replace("_", r"\_") + "%"})).mappings()}

    # Offered there, withdrawn here: given back (unless the doctor has something else then).
    for key, row in here.items():
        if key in keys and row["status"] == "withdrawn":
            try:
                async with session.begin_nested():
                    await session.execute(text("UPDATE slots SET status = 'free', withdrawn_at = NULL "
                                               "WHERE id = :id AND status = 'withdrawn'"), {"id": row["id"]})
                report.reopened += 1
            except IntegrityError:
                report.refused.append({"source_key": key, "reason": "another slot of the practitioner overlaps it"})
    report.unchanged = sum(1 for key in keys if key in here and here[key]["status"] != "withdrawn")

    # Offered there, unknown here: published (each that can be; the others reported with why).
    new = [(key, slot) for key, slot in keys.items() if key not in here]
    items: list[service.Item | None] = []
    rejected: list[Rejection] = []
    for index, (key, slot) in enumerate(new):
        try:
            start, stop = dt.datetime.fromisoformat(slot["start"]), dt.datetime.fromisoformat(slot["end"])
        except (KeyError, TypeError, ValueError):
            rejected.append(Rejection(index=index, field="start", reason="no valid start and end"))
            items.append(None)
            continue
        problem = service.time_problem(start, stop, now, settings)
        if problem:
            rejected.append(Rejection(index=index, field=problem[0], reason=problem[1]))
            items.append(None)
            continue
        items.append(service.Item(practitioner_id, site_id, start, stop, _mode(slot), key=key))
    report.refused += [{"source_key": new[x.index][0], "reason": x.reason} for x in rejected]
    candidates = [i for i, item in enumerate(items) if item is not None]
    for _ in range(3):  # what overlaps a slot already here is left out, the rest published
        try:
            async with session.begin_nested():
                ids = await service.publish(session, [items[i] for i in candidates], "fhir", [],
                                            total=len(candidates))
            report.published += sum(1 for i in ids if i is not None)
            break
        except (Conflict, Unprocessable) as exc:
            refused = {entry["index"] for entry in exc.extra.get("rejected", [])}
            if not refused:
                raise
            report.refused += [{"source_key": new[candidates[n]][0], "reason": entry.get("reason", "refused")}
                               for n, entry in ((e["index"], e) for e in exc.extra.get("rejected", []))]
            candidates = [c for n, c in enumerate(candidates) if n not in refused]
            if not candidates:
                break

    # Gone from there: withdrawn here if free; a slot booked here stays, its patient keeps it.
    gone = [key for key, row in here.items() if key not in keys and row["status"] != "withdrawn"]
    if gone:
        withdrawn = (await session.execute(text(f"""
            UPDATE slots s SET status = 'withdrawn', withdrawn_at = now()
            WHERE s.practitioner_id = :p AND s.source = 'fhir' AND s.source_key IN :keys AND {WITHDRAWABLE}
            RETURNING s.id""").bindparams(bindparam("keys", expanding=True)),
            {"p": practitioner_id, "keys": gone})).all()
        report.withdrawn = len(withdrawn)
        report.kept_booked = len(gone) - len(withdrawn)
    log.info("agenda.synced", practitioner_id=str(practitioner_id), published=report.published,
             withdrawn=report.withdrawn, reopened=report.reopened, kept_booked=report.kept_booked,
             refused=len(report.refused))
    return report


async def _only_site(session: AsyncSession, practitioner_id: uuid.UUID) -> uuid.UUID:
    """The site the practitioner's slots are at, when he has one (else the site must be named)."""
    sites = (await session.execute(text("SELECT DISTINCT site_id FROM slots WHERE practitioner_id = :p"),
                                   {"p": practitioner_id})).scalars().all()
    if len(sites) != 1:
        raise Unprocessable("Name the site (--site) the synced slots are held at: the practitioner has "
                            f"{len(sites)} sites with slots", field="site")
    return sites[0]
