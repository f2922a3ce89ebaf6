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
from app.practitioners.schemas import (
    PractitionerAdminSettings,
    PractitionerCreate,
    PractitionerRead,
    PractitionerSettings,
    WebhookSet,
)
from app.reference.nomenclatures import MEDECIN, MEDECINE_GENERALE, labels
from app.territories import repository as territory_repository
from app.territories import service as territory_service


async def create(session: AsyncSession, data: PractitionerCreate) -> PractitionerRead:
    if await repository.by_rpps(session, data.rpps) is not None:
        raise Conflict(f"A practitioner with RPPS {data.rpps} already exists", field="rpps")
    await _adeli_free(session, data.adeli, None)
    codes = list(dict.fromkeys(data.territory_codes))
    known = await territory_repository.existing_codes(session, codes)
    for i, code in enumerate(data.territory_codes):
        if code not in known:
            raise Unprocessable(f"territory_codes[{i}]: unknown territory {code!r}", field=f"territory_codes.{i}")
    sites = await _own_sites(session, data.site_ids, codes)
    practitioner = Practitioner(
        rpps=data.rpps, adeli=data.adeli, family_name=data.family_name, given_name=data.given_name,
        specialty=data.specialty,
        profession_code=data.profession_code, specialty_code=_specialty_code(data),
        languages=list(dict.fromkeys(data.languages)), accepts_over_capacity=data.accepts_over_capacity,
        phone=data.phone, mssante_address=data.mssante_address,
    )
    session.add(practitioner)
    await session.flush()
    session.add_all(PractitionerTerritory(practitioner_id=practitioner.id, territory_code=c) for c in codes)
    await session.flush()
    await repository.set_sites(session, practitioner.id, sites)
    await session.refresh(practitioner)
    return _as_read(practitioner, sorted(codes), await _site_ids(session, practitioner.id))


async def _adeli_free(session: AsyncSession, adeli: str | None, practitioner_id: uuid.UUID | None) -> None:
    """One practitioner per ADELI number: 409 naming ``adeli`` when another has it."""
    if adeli is None:
        return
    holder = await repository.by_adeli(session, adeli)
    if holder is not None and holder.id != practitioner_id:
        raise Conflict(f"A practitioner with ADELI {adeli} already exists", field="adeli")


async def _own_sites(session: AsyncSession, ids: list[uuid.UUID], served: list[str]) -> list[uuid.UUID]:
    """``ids`` without repeats, once each is known to be a site in a territory the practitioner serves (or
    a CPTS under one, as for publishing): 422 naming ``site_ids`` otherwise."""
    wanted = list(dict.fromkeys(ids))
    places = await repository.site_places(session, wanted)
    for i, site_id in enumerate(ids):
        if site_id not in places:
            raise Unprocessable(f"site_ids[{i}]: unknown site {site_id}", field="site_ids")
        if not places[site_id] & set(served):
            raise Unprocessable(f"site_ids[{i}]: site {site_id} is in a territory the practitioner does not serve",
                                field="site_ids")
    return wanted


async def _site_ids(session: AsyncSession, practitioner_id: uuid.UUID) -> list[uuid.UUID]:
    return (await repository.site_ids(session, [practitioner_id]))[practitioner_id]


def _specialty_code(data: PractitionerCreate) -> str | None:
    if data.specialty_code is None and data.profession_code == MEDECIN and data.specialty == "Médecine générale":
        return MEDECINE_GENERALE
    return data.specialty_code


def _as_read(
    p: Practitioner, codes: list[str], site_ids: list[uuid.UUID], delivery: WebhookDelivery | None = None
) -> PractitionerRead:
    return PractitionerRead(
        id=p.id, rpps=p.rpps, adeli=p.adeli, family_name=p.family_name, given_name=p.given_name, specialty=p.specialty,
        profession_code=p.profession_code, profession=labels("G15").get(p.profession_code),
        specialty_code=p.specialty_code,
        specialty_label=labels("R38").get(p.specialty_code) if p.specialty_code else None,
        languages=list(p.languages),
        territory_codes=codes, webhook_url=p.webhook_url, webhook_delivery=delivery,
        accepts_over_capacity=p.accepts_over_capacity, phone=p.phone, site_ids=site_ids, created_at=p.created_at,
        mssante_address=p.mssante_address,
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
    return _as_read(practitioner, codes, await _site_ids(session, practitioner.id),
                    await _delivery(session, principal, practitioner))


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
    sites = await repository.site_ids(session, [p.id for p in rows])
    shown = await notification_service.deliveries(
        session, [p.id for p in rows if p.webhook_url is not None and _sees_delivery(principal, p.id)])
    return [_as_read(p, codes[p.id], sites[p.id], shown.get(p.id)) for p in rows]


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
    return _as_read(practitioner, await serves(session, practitioner.id), await _site_ids(session, practitioner.id),
                    await _delivery(session, principal, practitioner))


async def update_me(session: AsyncSession, principal: Principal, data: PractitionerSettings) -> PractitionerRead:
    """The effector's own settings; a field left out is left as it is."""
    if principal.practitioner_id is None:
        raise NotFound("No practitioner behind this token")
    return await update(session, principal, principal.practitioner_id, data)


async def update(
    session: AsyncSession, principal: Principal, practitioner_id: uuid.UUID, data: PractitionerSettings
) -> PractitionerRead:
    """A practitioner's settings, by himself or an administrator; a field left out is left as it is."""
    practitioner = await get_model(session, practitioner_id)
    codes = await serves(session, practitioner.id)
    if data.site_ids is not None:
        await repository.set_sites(session, practitioner.id, await _own_sites(session, data.site_ids, codes))
    if data.accepts_over_capacity is not None:
        practitioner.accepts_over_capacity = data.accepts_over_capacity
    if data.languages is not None:
        practitioner.languages = list(dict.fromkeys(data.languages))
    if "phone" in data.model_fields_set:  # null removes it
        practitioner.phone = data.phone
    if "mssante_address" in data.model_fields_set:  # null removes it
        practitioner.mssante_address = data.mssante_address
    if isinstance(data, PractitionerAdminSettings) and "adeli" in data.model_fields_set:  # null removes it
        await _adeli_free(session, data.adeli, practitioner.id)
        practitioner.adeli = data.adeli
    await session.flush()
    return _as_read(practitioner, codes, await _site_ids(session, practitioner.id),
                    await _delivery(session, principal, practitioner))
