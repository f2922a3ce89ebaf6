"""The declarer: every appointment booked on our slots is declared to the national SAS platform (the
guide's "gestionnaire d'agenda RDV", ``SNP_PTF_SAS_FHIR_URL``) as FrAppointmentSAS — created (POST) when
booked, updated by identifier (conditional PUT) when cancelled or when its outcome is known.

It reads the transactional outbox: every booking, cancellation and outcome wrote its event in the same
transaction, so nothing is declared that did not happen, and nothing that happened is missed. Events
are read in the order their transactions became final — by transaction id up to the oldest one still
running (``pg_snapshot_xmin``), then by sequence — so an event that commits late is never skipped, and
the events of one appointment go out in the order they happened. One declarer at a time (an advisory
lock, whichever instance gets it); the cursor moves only past what the platform accepted or refused
for good, so a platform that is down gets everything once it is back (at least once: the identifier
makes a repeat harmless). Appointments that an agenda declared to us are not declared again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.fhir import appointments
from app.outbox import appointments as projection
from app.outbox import cursors
from app.platform.config import Settings
from app.platform.logging import log
from app.platform.periodic import every

CURSOR = "ptf"
LOCK = 0x534E5044  # one declarer across every instance
BATCH = 50
FHIR_JSON = "application/fhir+json"


async def _send(client: httpx.AsyncClient, base: str, creates: bool, body: dict[str, Any]) -> str | None:
    """None when the platform took it; else why to try again later. Raises ``Held`` when the platform refused
    it for good (4xx): kept, visible, and sent again after a fix (``snp declarations retry``)."""
    try:
        if creates:
            response = await client.post(f"{base}/Appointment", json=body)
        else:
            identifier = body["identifier"][0]
            response = await client.put(f"{base}/Appointment", json=body,
                                        params={"identifier": f"{identifier['system']}|{identifier['value']}"})
    except httpx.HTTPError as exc:
        return type(exc).__name__
    if response.is_success:
        return None
    if response.status_code in (408, 425, 429) or response.status_code >= 500:
        return f"HTTP {response.status_code}"
    # Refused for good (the platform does not know the practitioner, the appointment breaks a rule): kept with
    # what the platform said, and the next appointments go on.
    log.warning("ptf.declaration_refused", booking_id=body["identifier"][0]["value"], status=response.status_code)
    raise cursors.Held("refused", f"HTTP {response.status_code}: {_outcome(response)}", response.status_code)


def _outcome(response: httpx.Response) -> str:
    """What a refusal says: its OperationOutcome's issues (diagnostics, else details), else its text."""
    try:
        found = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    issues = found.get("issue") if isinstance(found, dict) else None
    if isinstance(issues, list):
        said = []
        for issue in issues:
            if not isinstance(issue, dict):
                continue
            details = issue.get("details")
            text = issue.get("diagnostics") or (details.get("text") if isinstance(details, dict) else None)
            said.append(" ".join(str(x) for x in (issue.get("code"), text) if x))
        if said:
            return "; ".join(said)[:1500]
    return response.text[:500]


async def declare_once(sessionmaker: async_sessionmaker[AsyncSession], client: httpx.AsyncClient, base: str) -> int:
    """One round: the final events after the cursor, sent in order; how many were settled."""

    async def handle(session: AsyncSession, event: RowMapping, row: Any) -> None:
        if row is None:
            return
        fixed = await appointments.systems(session)
        appointment = projection.told(row, event["kind"])
        if not appointment.ours_to_tell:  # an appointment declared to us is its agenda's
            return
        unidentified = appointment.unidentified
        if unidentified is not None:  # FrAppointmentSAS requires the operator: never one made up
            log.warning("ptf.declaration_parked", booking_id=str(appointment.booking_id))
            raise cursors.Held("parked", unidentified)
        failure = await _send(client, base, appointment.creates, appointments.resource(appointment, fixed))
        if failure is not None:
            log.warning("ptf.declaration_deferred", error=failure)
            raise cursors.Deferred(failure)

    settled = await cursors.read_round(sessionmaker, name=CURSOR, lock=LOCK, batch=BATCH, rows=projection.rows,
                                       handle=handle)
    released = await cursors.release_round(sessionmaker, name=CURSOR, lock=LOCK, batch=BATCH, rows=projection.rows,
                                           handle=handle)
    if settled or released:
        log.info("ptf.declared", events=settled, released=released)
    return settled


def client_for(settings: Settings) -> httpx.AsyncClient:
    headers = {"Accept": FHIR_JSON, "Content-Type": FHIR_JSON}
    if settings.ptf_sas_token:
        headers["Authorization"] = f"Bearer {settings.ptf_sas_token}"
    cert = None
    if settings.ptf_sas_client_cert:  # mutual TLS with an IGC-Santé certificate, as the platform asks
        cert = (str(settings.ptf_sas_client_cert), str(settings.ptf_sas_client_key)) if settings.ptf_sas_client_key \
            else str(settings.ptf_sas_client_cert)
    return httpx.AsyncClient(timeout=httpx.Timeout(settings.ptf_sas_timeout_seconds), headers=headers, cert=cert,
                             follow_redirects=False)


def start_in_background(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> Callable[
        [], Awaitable[None]]:
    """Declare every ``SNP_PTF_SAS_DECLARE_SECONDS`` (and at once when a round was full)."""
    base = str(settings.ptf_sas_fhir_url).rstrip("/")
    client = client_for(settings)

    async def job() -> None:
        while await declare_once(sessionmaker, client, base) >= BATCH:
            pass

    stop_rounds = every(settings.ptf_sas_declare_seconds, job, "ptf.declare")
    log.info("ptf.declarer_started")

    async def stop() -> None:
        await stop_rounds()
        await client.aclose()

    return stop

