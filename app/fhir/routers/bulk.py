"""SMART Scheduling Links (app/fhir/bulk.py): the manifest of the free SNP capacity of the caller's
territories and its files, each with an ETag that a matching ``If-None-Match`` answers with ``304``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response

from app.auth.principal import Principal
from app.fhir import bulk
from app.fhir.routers.common import FhirReaderDep, base, booker, codes
from app.http.dependencies import SessionDep
from app.http.errors import error_responses
from app.platform.errors import NotFound

router = APIRouter(prefix="/fhir", tags=["fhir"])
NDJSON = "application/fhir+ndjson"


async def _publication(request: Request, session: SessionDep, principal: Principal) -> bulk.Publication:
    """The caller's scope's publication, from this instance's cache (app.state)."""
    cache: dict[bulk.Key, bulk.Publication] = request.app.state.__dict__.setdefault("bulk_publications", {})
    return await bulk.publication(session, cache, request.app.state.settings, codes=await codes(session, principal),
                                  bookers=booker(principal)["bookers"])


def _cache_control(request: Request) -> str:
    """As fresh as this instance keeps a publication (SNP_BULK_PUBLISH_SECONDS); private: never shared by a
    proxy, the files need a token."""
    return f"private, max-age={int(request.app.state.settings.bulk_publish_seconds)}"


def _not_modified(request: Request, etag: str) -> bool:
    wanted = request.headers.get("if-none-match", "")
    return etag in [t.strip() for t in wanted.split(",")] or wanted.strip() == "*"


@router.get("/$bulk-publish", operation_id="fhir_bulk_publish", response_class=JSONResponse, responses={
    200: {"description": "The SMART Scheduling Links manifest of the caller's départements",
          "content": {"application/json": {"schema": {"type": "object"}}}},
    304: {"description": "Unchanged since the ETag given in If-None-Match"}, **error_responses(401, 403)})
async def bulk_publish(request: Request, session: SessionDep, principal: FhirReaderDep) -> Response:
    """SMART Scheduling Links: the manifest of the free SNP capacity of my territories (one Location,
    Schedule and Slot file per département), with an ETag; never anonymous."""
    publication = await _publication(request, session, principal)
    headers = {"ETag": publication.etag, "Cache-Control": _cache_control(request)}
    if _not_modified(request, publication.etag):
        return Response(status_code=304, headers=headers)
    return JSONResponse(bulk.manifest(publication, base(request)), headers=headers)


@router.get("/$bulk-publish/{departement}/{kind}.ndjson", operation_id="fhir_bulk_publish_file",
            response_class=Response, responses={
                200: {"description": "One resource per line", "content": {NDJSON: {"schema": {"type": "string"}}}},
                304: {"description": "Unchanged since the ETag given in If-None-Match"},
                **error_responses(401, 403, 404)})
async def bulk_publish_file(
    request: Request, session: SessionDep, principal: FhirReaderDep,
    departement: Annotated[str, Path(pattern=r"^[0-9][0-9AB][0-9]?$")],
    kind: Literal["locations", "schedules", "slots"],
) -> Response:
    """A file of the manifest: the Locations (sites), Schedules (a site and a mode) or Slots of a
    département of my territories."""
    publication = await _publication(request, session, principal)
    found = publication.files.get((departement, kind))
    if found is None:
        raise NotFound(f"No publication for département {departement} in your territories")
    headers = {"ETag": found.etag, "Cache-Control": _cache_control(request)}
    if _not_modified(request, found.etag):
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type=NDJSON, headers=headers)
