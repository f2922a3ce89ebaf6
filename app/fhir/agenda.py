"""Agenda sync, the other way: a doctor whose agenda editor already serves the ANS guide's slot search
keeps one agenda. We run the national platform's search against the editor (with a FHIR client), publish
the free SNP slots we do not have yet, withdraw ours from that agenda that it no longer offers, give back
those it offers again, and never touch a slot booked here.

Slots synced are ``source = 'fhir'``, keyed by the editor's address and slot id (``source_key``), so a
second run changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import aiohttp.abc
import aiohttp.resolver
from fhirpy import AsyncFHIRClient
from fhirpy.base.utils import AttrDict
from sqlalchemy import bindparam, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.fhir import resources as r
from app.platform import outbound
from app.platform.config import Settings
from app.platform.errors import Conflict, NotFound, Unavailable, Unprocessable
from app.platform.logging import log
from app.platform.periodic import every
from app.slots import service
from app.slots.repository import WITHDRAWABLE
from app.slots.schemas import Rejection

# The guide's modes (ActCode) back to ours.
MODES = {code: mode for mode, (code, _) in r.MODES.items()}
PAGE = 100
MAX_PAGE_BYTES = 20 * 1024 * 1024


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


class GuardedResolver(aiohttp.abc.AbstractResolver):
    """aiohttp's resolver, keeping only public addresses (or every address of an allowed host): a source
    configured for the scheduled sync, and every page it points to, is dialled as resolved here."""

    def __init__(self, allowed_hosts: set[str]) -> None:
        self.allowed = allowed_hosts
        self.inner = aiohttp.resolver.ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
        found = await self.inner.resolve(host, port, family)
        if outbound.is_allowed(host, self.allowed):
            return found
        public = [entry for entry in found if outbound.is_public(entry["host"])]
        if not public:
            raise OSError(f"{host} resolves to no public address")
        return public

    async def close(self) -> None:
        await self.inner.close()


class GuardedFHIRClient(AsyncFHIRClient):
    """fhirpy's client for the scheduled sync: every request — the search and each ``next`` page the editor
    names — stays on the source's own origin and reaches public addresses only."""

    def __init__(self, url: str, *, allowed_hosts: set[str], allow_plain_http: bool, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.origin = urlsplit(url)[:2]
        self.allowed_hosts = allowed_hosts
        self.allow_plain_http = allow_plain_http

    async def _do_request(self, method: str, path: str, data: dict[str, Any] | None = None,  # type: ignore[override]
                          params: dict[str, Any] | None = None, extra_headers: dict[str, Any] | None = None, *,
                          returning_status: bool = False) -> Any:
        url = self._build_request_url(path, params)
        if urlsplit(url)[:2] != self.origin:
            raise outbound.InternalTarget(f"the agenda points outside its own origin ({urlsplit(url).netloc})")
        outbound.check_url(url, allowed_hosts=self.allowed_hosts, allow_plain_http=self.allow_plain_http)
        headers = {**self._build_request_headers(), **(extra_headers or {})}
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(self.allowed_hosts))
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(headers=headers, connector=connector, timeout=timeout) as session, \
                session.request(method, url, json=data, allow_redirects=False) as answer:
            if not 200 <= answer.status < 300:
                raise OSError(f"the agenda answered {answer.status}")
            body = await answer.read()
            if len(body) > MAX_PAGE_BYTES:
                raise OSError("the agenda's page is too large")
            found = json.loads(body, object_hook=AttrDict) if body else None
            return (found, answer.status) if returning_status else found


async def remote_free_slots(source: str, rpps: str, start: dt.datetime, end: dt.datetime,
                            token: str | None, *, guarded: Settings | None = None) -> list[dict[str, Any]]:
    """The editor's free slots of the practitioner, by the guide's search, every page (``guarded``: through
    the outbound guard, with these settings' allowed hosts)."""
    authorization = f"Bearer {token}" if token else None
    client: AsyncFHIRClient
    if guarded is not None:
        client = GuardedFHIRClient(source.rstrip("/"), authorization=authorization,
                                   allowed_hosts={h.lower() for h in guarded.webhook_allowed_hosts},
                                   allow_plain_http=guarded.env != "production")
    else:
        client = AsyncFHIRClient(source.rstrip("/"), authorization=authorization)
    search = client.resources("Slot").search(
        start=[f"ge{start.isoformat()}", f"le{end.isoformat()}"], status="free",
        **{"schedule.actor:Practitioner.identifier": f"{r.PS_OID}|8{rpps}"}).limit(PAGE)
    try:
        found = await search.fetch_all()
    except Exception as exc:  # noqa: BLE001 - an editor that cannot be read is reported, nothing changes
        reason = f"{type(exc).__name__}: {str(exc)[:200]}" if isinstance(exc, OSError | ValueError) \
            else type(exc).__name__  # ours (the guard, the page's size), or the network's
        raise Unavailable(f"The agenda at {source} cannot be read: {reason}") from exc
    return [resource.serialize() for resource in found]


async def sync(session: AsyncSession, settings: Settings, *, source: str, practitioner_id: uuid.UUID,
               site_id: uuid.UUID | None, token: str | None, guarded: bool = False) -> SyncReport:
    """Bring the practitioner's synced slots here in line with the editor's free ones (horizon window)."""
    doctor = (await session.execute(text("SELECT id, rpps FROM practitioners WHERE id = :id"),
                                    {"id": practitioner_id})).mappings().first()
    if doctor is None:
        raise NotFound(f"Practitioner {practitioner_id} not found", field="practitioner")
    site_id = site_id or await _only_site(session, practitioner_id)
    await service.site_for(session, practitioner_id, site_id)
    now = service.now_utc()
    end = service.horizon_end(settings, now)
    offered = await remote_free_slots(source, doctor["rpps"], now, end, token, guarded=settings if guarded else None)
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


# ----------------------------------------------------------------------------------- on a schedule

# Claimed by pushing their next run forward, committed: an instance takes the due sources no other one
# has taken (SKIP LOCKED), and one that dies mid-run leaves them for their next time.
_CLAIM = text("""
    UPDATE agenda_sources a SET next_run_at = now() + make_interval(secs => a.every_seconds)
    WHERE a.practitioner_id IN (SELECT practitioner_id FROM agenda_sources
                                WHERE active AND next_run_at <= now() ORDER BY next_run_at
                                LIMIT :limit FOR UPDATE SKIP LOCKED)
    RETURNING a.practitioner_id, a.source_url, a.site_id, a.token""")
_DONE = text("""
    UPDATE agenda_sources SET last_run_at = now(), last_report = CAST(:report AS jsonb), last_error = :error
    WHERE practitioner_id = :p""")


async def sync_due(sessionmaker: Any, settings: Settings, limit: int = 20) -> int:
    """One round of the scheduled sync: the sources due, each in its own transaction, through the outbound
    guard; what happened is kept on the source (its report, or why it failed). How many ran."""
    async with sessionmaker() as session, session.begin():
        due = (await session.execute(_CLAIM, {"limit": limit})).mappings().all()
    for source in due:
        began = time.monotonic()
        report: SyncReport | None = None
        error: str | None = None
        try:
            async with sessionmaker() as session, session.begin():
                report = await sync(session, settings, source=source["source_url"],
                                    practitioner_id=source["practitioner_id"], site_id=source["site_id"],
                                    token=source["token"], guarded=True)
        except Exception as exc:  # noqa: BLE001 - kept on the source; the next ones go on
            error = (getattr(exc, "detail", None) or f"{type(exc).__name__}: {exc}")[:500]
            log.warning("agenda.scheduled_sync_failed", practitioner_id=str(source["practitioner_id"]),
                        error=type(exc).__name__)
        body = None if report is None else json.dumps(
            {**report.__dict__, "seconds": round(time.monotonic() - began, 3)}, default=str)
        async with sessionmaker() as session, session.begin():
            await session.execute(_DONE, {"p": source["practitioner_id"], "report": body, "error": error})
    return len(due)


def start_in_background(sessionmaker: Any, settings: Settings) -> Callable[[], Awaitable[None]]:
    """Look for due sources every ``SNP_AGENDA_SYNC_SECONDS``."""
    return every(settings.agenda_sync_seconds, lambda: sync_due(sessionmaker, settings), "agenda.scheduled")
