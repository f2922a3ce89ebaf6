"""The patient's own request for a médecin traitant (source ``self``), by the public self-referral link of his
territory (app/calls/self_referral.py: the same signed links, the same budget by address): a French form without
JavaScript with the information notice he is owed; a request waits on the territory's list; nothing is shown back
but that it is recorded (a link says nothing of who asked before)."""

from __future__ import annotations

import datetime as dt

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.calls import self_referral
from app.mt import pages, service
from app.mt.schemas import MtPatientIn
from app.platform.config import Settings
from app.platform.errors import NotFound, Unprocessable
from app.territories import service as territory_service

SUFFIX = "/mt"
LABELS = {"phone": "Le numéro de téléphone", "family_name": "Le nom", "given_name": "Le prénom",
          "birth_year": "L'année de naissance", "postcode": "Le code postal", "publics": "La situation"}


def _blank(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


async def page(session: AsyncSession, token: str, settings: Settings, form: dict[str, str | None] | None = None,
               publics: list[str] | None = None) -> tuple[int, str]:
    """The page for ``token`` (status, HTML): the form (``form`` None: a GET), or the request made from ``form``."""
    code = self_referral.territory_of(settings.link_secret, token, dt.datetime.now(dt.UTC))
    try:
        territory = None if code is None else await territory_service.get(session, code)
    except NotFound:
        territory = None
    if territory is None:
        return 404, pages.self_unknown()
    action = self_referral.PATH + token + SUFFIX
    days = settings.mt_retention_days
    if form is None:
        return 200, pages.self_form(action, days)
    fields = {k: _blank(v) for k, v in form.items()}
    declared = [p for p in (publics or []) if p]
    if any(p not in pages.DECLARED for p in declared):
        return 422, pages.self_form(action, days, "La situation choisie n'est pas de la liste.")
    try:
        patient = MtPatientIn.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        name = str(exc.errors()[0]["loc"][0])
        return 422, pages.self_form(action, days, f"{LABELS.get(name, name)} n'est pas valable : vérifiez-le.")
    try:
        await service.create_self(session, territory.code, patient, declared)
    except Unprocessable as exc:
        name = (exc.field or "").removeprefix("patient.")
        what = "est nécessaire : la coordination vous rappelle" if name == "phone" else "n'est pas valable"
        return 422, pages.self_form(action, days, f"{LABELS.get(name, name)} {what}.")
    return 201, pages.self_received()
