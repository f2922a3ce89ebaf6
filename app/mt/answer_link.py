"""The doctor's answer by a signed link (app/mt/links.py): a GET shows the proposal — publics, postcode, priority,
never the patient's name — and changes nothing (mail scanners fetch links); a POST accepts or refuses through the one
answering path (``service.accept`` / ``service.refuse``, as ``POST /v1/mt-proposals/{id}/accept|refuse``), as the
doctor the proposal names; a second POST says it is already answered."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import true
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.mt import links, pages, repository, service
from app.mt.errors import AlreadyPlaced, CapacityExhausted, NotAccepting, WrongState
from app.mt.models import MtProposal, MtRequest
from app.mt.schemas import RefuseIn, matching_publics
from app.platform.config import Settings
from app.platform.logging import log

SUB = "answer-link"  # who answered: the doctor the proposal names, through his link (the audit names the proposal)
WHY = {AlreadyPlaced: "Un autre médecin a déjà accepté ce patient.",
       CapacityExhausted: "Vous avez déjà accepté ce mois-ci le nombre de nouveaux patients que vous aviez déclaré.",
       NotAccepting: "Votre offre de prendre de nouveaux patients est close (ou échue) : rouvrez-la dans votre espace "
                     "pour accepter ce patient."}


async def _context(session: AsyncSession, proposal: MtProposal, request: MtRequest) -> dict[str, Any]:
    year = service.now().year
    publics = matching_publics(list(request.publics), request.patient_birth_year, year)
    publics += [p for p in request.publics if p == "pregnancy"]
    return {"publics": publics, "age": None if request.patient_birth_year is None else
            max(0, year - request.patient_birth_year), "postcode": request.patient_postcode,
            "priority": request.priority, "reasons": list(request.priority_reasons),
            "distance_km": proposal.distance_km,
            "site_name": None if proposal.site_id is None else await repository.site_name(session, proposal.site_id)}


async def show(session: AsyncSession, token: str, settings: Settings, *, act: bool, answer: str | None = None,
               reason: str | None = None) -> tuple[int, str]:
    """The page for ``token`` (status, HTML); ``act``: answer (a POST) with ``answer`` and, to refuse, ``reason``."""
    proposal_id = links.proposal_of(settings.link_secret, token, dt.datetime.now(dt.UTC))
    proposal = None if proposal_id is None else await repository.proposal(session, proposal_id)
    request = None if proposal is None else await repository.get(session, proposal.request_id, true())
    if proposal is None or request is None:
        return 404, pages.unknown()
    ctx = await _context(session, proposal, request)
    if proposal.state != "pending":
        return 200, pages.already(ctx, proposal.state)
    action = links.PATH + token
    if not act:
        return 200, pages.answer_form(ctx, action)
    if answer not in ("accept", "refuse"):
        return 422, pages.answer_form(ctx, action, "Choisissez : accepter ou refuser.")
    if answer == "refuse" and reason not in pages.REFUSALS:
        return 422, pages.answer_form(ctx, action, "Pour refuser, choisissez un motif.")
    doctor = Principal(sub=SUB, role="effector", territories=(request.territory_code,),
                       practitioner_id=proposal.practitioner_id)
    try:
        if answer == "accept":
            await service.accept(session, doctor, proposal.id)
        else:
            await service.refuse(session, doctor, proposal.id, RefuseIn(reason=reason))  # type: ignore[arg-type]
    except WrongState:  # answered meanwhile (a second click, his view)
        await session.refresh(proposal)
        return 200, pages.already(ctx, proposal.state)
    except (AlreadyPlaced, CapacityExhausted, NotAccepting) as exc:
        return 409, pages.not_possible(ctx, WHY[type(exc)])
    log.info("mt.answered_by_link", proposal_id=str(proposal.id), answer=answer)
    return 200, pages.accepted(ctx) if answer == "accept" else pages.refused(ctx)
