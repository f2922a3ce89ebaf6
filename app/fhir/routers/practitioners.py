"""The national platform's regulator accounts (the guide's INT_R02, profile FrPractitionerRegul; its
CapabilityStatement SAS-GestionnaireStructure): created by ``POST /fhir/Practitioner``, updated (and
created when unknown) by the conditional ``PUT /fhir/Practitioner?identifier=system|value``, disabled by
``active: false`` (the guide's deletion). The accounts are users of role regulator (app/users/accounts.py);
``GET /fhir/Practitioner/{id}`` reads them back (app/fhir/routers/slots.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from app.auth.dependencies import require_roles
from app.auth.principal import Principal
from app.auth.registry import forget_registered
from app.fhir import regulators
from app.fhir.routers.common import FHIR_JSON, FhirResponse, FhirRoute, base
from app.http.dependencies import SessionDep
from app.http.errors import error_responses
from app.platform.errors import BadRequest, PreconditionFailed
from app.users import accounts

router = APIRouter(prefix="/fhir", tags=["fhir"], route_class=FhirRoute)
# Who administers the regulator accounts: the national platform (mutual TLS), and an administrator.
AccountsDep = Annotated[Principal, Depends(require_roles("platform", "admin"))]


def _doc(description: str, code: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"content": {FHIR_JSON: {"schema": {"type": "object"}}}, "description": description},
            **error_responses(400, 401, 403, 409, 412, 422)}


def _answer(request: Request, user: Any, created: bool) -> FhirResponse:
    forget_registered()  # this process at once; the others when they see the registry's generation move
    return FhirResponse(regulators.resource(user), status_code=201 if created else 200,
                        headers={"Location": f"{base(request)}/fhir/Practitioner/{user.id}"})


@router.post("/Practitioner", response_class=FhirResponse, status_code=201, operation_id="fhir_create_regulator",
             responses=_doc("The regulator account, created (Location: its id); 200 when its identifiers name an "
                            "account already here, updated as the guide's idempotence asks", 201))
async def create_regulator(request: Request, data: regulators.PractitionerIn, session: SessionDep,
                           principal: AccountsDep) -> FhirResponse:
    """Register a regulator of the national platform (FrPractitionerRegul): a user of role regulator, with the
    territories this deployment gives them (SNP_PTF_SAS_REGULATOR_TERRITORIES). An account its identifiers
    already name is updated instead (200): the platform may send a creation again."""
    account = regulators.account(data)
    user, created = await accounts.provision(session, principal, account,
                                             request.app.state.settings.ptf_sas_regulator_territories)
    return _answer(request, user, created)


@router.put("/Practitioner", response_class=FhirResponse, operation_id="fhir_update_regulator",
            responses=_doc("The regulator account as it now stands (Location: its id); 201 when it was created", 200))
async def update_regulator(
    request: Request, data: regulators.PractitionerIn, session: SessionDep, principal: AccountsDep,
    identifier: Annotated[str | None, Query(max_length=300, description=(
        "system|value: urn:oid:1.2.250.1.71.4.2.1|<national id> or urn:oid:1.2.250.1.213.3.6|<SAS technical id>"
    ))] = None,
    capitalised: Annotated[str | None, Query(alias="Identifier", max_length=300, description=(
        "the same, as the guide's page writes it (`Identifier=`)"))] = None,
) -> FhirResponse:
    """Conditional update of a regulator account by its national or technical id: names, e-mail, identifiers
    (an account known by its technical id gains its national id), `active` (false: disabled at once, the
    guide's deletion). Unknown, it is created (201, as FHIR's conditional update does); several accounts
    found: 412."""
    if (identifier is None) == (capitalised is None):
        raise BadRequest("identifier: give one system|value (identifier=, or the guide's Identifier=)",
                         field="identifier")
    national_id, technical_id = regulators.query_identifier(identifier or capitalised or "")
    account = regulators.account(data)
    found = await accounts.find(session, national_id=national_id, technical_id=technical_id)
    if len(found) > 1:
        raise PreconditionFailed(f"{len(found)} accounts match this identifier: name one", field="identifier")
    user, created = await accounts.provision(session, principal, account,
                                             request.app.state.settings.ptf_sas_regulator_territories,
                                             found[0] if found else None)
    return _answer(request, user, created)
