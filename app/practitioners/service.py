from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.notifications import repository as notification_repository
from app.notifications import service as notification_service
from app.notifications.service import WebhookDelivery
from app.platform.config import Settings
from app.platform.errors import Conflict, NotFound, Unprocessable
from app.platform.outbound import check_url
from app.practitioners import repository
from app.practitioners.models import Practitioner, PractitionerTerritory
from app.practitioners.schemas import PractitionerCreate, PractitionerRead, PractitionerSettings, WebhookSet
from app.reference.nomenclatures import MEDECIN, MEDECINE_GENERALE, labels
from app.territories import repository as territory_repository
from app.territories import service as territory_service


async def create(session: AsyncSession, data: PractitionerCreate) -> PractitionerRead:
    if await repository.by_rpps(session, data.rpps) is not None:
        raise Conflict(f"A practitioner with RPPS {data.rpps} already exists", field="rpps")
    codes = list(dict.fromkeys(data.territory_codes))
    known = await territory_repository.existing_codes(session, codes)
    for i, code in enumerate(data.territory_codes):
        if code not in known:
            raise Unprocessable(f"territory_codes[{i}]: unknown territory {code!r}", field=f"territory_codes.{i}")
    practitioner = Practitioner(
        rpps=data.rpps, family_name=data.family_name, given_name=data.given_name, specialty=data.specialty,
        profession_code=data.profession_code, specialty_code=_specialty_code(data),
        languages=list(dict.fromkeys(data.languages)), accepts_over_capacity=data.accepts_over_capacity,
    )
    session.add(practitioner)
    await session.flush()
    session.add_all(PractitionerTerritory(practitioner_id=practitioner.id, territory_code=c) for c in codes)
    await session.flush()
    await session.refresh(practitioner)
    return _as_read(practitioner, sorted(codes))


def _specialty_code(data: PractitionerCreate) -> str | None:
    if data.specialty_code is None and data.profession_code == MEDECIN and data.specialty == "Médecine générale":
        return MEDECINE_GENERALE
    return data.specialty_code


def _as_read(p: Practitioner, codes: list[str], delivery: WebhookDelivery | None = None) -> PractitionerRead:
    return PractitionerRead(
        id=p.id, rpps=p.rpps, family_name=p.family_name, given_name=p.given_name, specialty=p.specialty,
        profession_code=p.profession_code, profession=labels("G15").get(p.profession_code),
        specialty_code=p.specialty_code,
        specialty_label=labels("R38").get(p.specialty_code) if p.specialty_code else None,
        languages=list(p.languages),
        territory_codes=codes, webhook_url=p.webhook_url, webhook_delivery=delivery,
        accepts_over_capacity=p.accepts_over_capacity, created_at=p.created_at,
    )


async def get_model(session: AsyncSession, practitioner_id: uuid.UUID) -> Practitioner:
    practitioner = await repository.get(session, practitioner_id)
    if practitioner is None:
        raise NotFound(f"Practitioner {practitioner_id} not found")
    return practitioner


async def get(session: AsyncSession, principal: Principal, practitioner_id: uuid.UUID) -> PractitionerRead:
    practitioner = await get_model(session, practitioner_id)
    codes = (await repository.territory_codes(session, [practitioner.id]))[practitioner.id]
    if principal.role == "effector" and principal.practitioner_id != practitioner.id:
        raise NotFound(f"Practitioner {practitioner_id} not found")
    visible = await territory_service.visible_codes(session, principal)
    if principal.role != "effector" and visible is not None and not visible.intersection(codes):
        raise NotFound(f"Practitioner {practitioner_id} not found")
    return _as_read(practitioner, codes, await _delivery(session, principal, practitioner))


def _sees_delivery(principal: Principal, practitioner_id: uuid.UUID) -> bool:
    """The webhook's state is the practitioner's own business, and the administrators'."""
    return principal.role == "admin" or principal.practitioner_id == practitioner_id


async def _delivery(session: AsyncSession, principal: Principal, p: Practitioner) -> WebhookDelivery | None:
    if p.webhook_url is None or not _sees_delivery(principal, p.id):
        return None
    return (await notification_service.deliveries(session, [p.id])).get(p.id)


async def list_(
    session: AsyncSession, principal: Principal, *, territory: str | None, rpps: str | None, limit: int, offset: int
) -> Sequence[PractitionerRead]:
    visible = await territory_service.visible_codes(session, principal)
    scope = visible
    if territory:
        wanted = await territory_repository.with_children(session, [territory])
        scope = wanted if visible is None else wanted & visible
    rows = await repository.list_(session, territories=scope, rpps=rpps, limit=limit, offset=offset)
    codes = await repository.territory_codes(session, [p.id for p in rows])
    shown = await notification_service.deliveries(
        session, [p.id for p in rows if p.webhook_url is not None and _sees_delivery(principal, p.id)])
    return [_as_read(p, codes[p.id], shown.get(p.id)) for p in rows]


async def serves(session: AsyncSession, practitioner_id: uuid.UUID) -> list[str]:
    return (await repository.territory_codes(session, [practitioner_id]))[practitioner_id]


async def set_webhook(
    session: AsyncSession, principal: Principal, data: WebhookSet, settings: Settings
) -> PractitionerRead:
    if principal.practitioner_id is None:
        raise NotFound("No practitioner behind this token")
    try:
        check_url(str(data.url), allowed_hosts=settings.webhook_allowed_hosts,
                  allow_plain_http=settings.env == "development")
    except ValueError as exc:
        raise Unprocessable(f"url: {exc}", field="url") from exc
    practitioner = await get_model(session, principal.practitioner_id)
    practitioner.webhook_url = str(data.url)
    practitioner.webhook_secret = data.secret
    await session.flush()
    await notification_repository.reset_receiver(session, practitioner.id)
    return _as_read(practitioner, await serves(session, practitioner.id),
                    await _delivery(session, principal, practitioner))


async def update_me(session: AsyncSession, principal: Principal, data: PractitionerSettings) -> PractitionerRead:
    """The effector's own settings; a field left out is left as it is."""
    if principal.practitioner_id is None:
        raise NotFound("No practitioner behind this token")
    practitioner = await get_model(session, principal.practitioner_id)
    if data.accepts_over_capacity is not None:
        practitioner.accepts_over_capacity = data.accepts_over_capacity
    if data.languages is not None:
        practitioner.languages = list(dict.fromkeys(data.languages))
    await session.flush()
    return _as_read(practitioner, await serves(session, practitioner.id),
                    await _delivery(session, principal, practitioner))
