"""What this FHIR server serves, as a CapabilityStatement (public, as FHIR servers do)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.fhir import resources as r
from app.fhir.routers.common import FhirResponse, base, doc

router = APIRouter(prefix="/fhir", tags=["fhir"])


@router.get("/metadata", response_class=FhirResponse, operation_id="fhir_metadata",
            responses=doc("The CapabilityStatement of what this server serves"))
async def metadata(request: Request) -> FhirResponse:
    """What we serve, as a CapabilityStatement (public, as FHIR servers do)."""
    return FhirResponse(r.capability_statement(base(request) + "/fhir"))
