"""The operator console: a French single page served with the API (ES modules, no build step, no framework)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

STATIC = Path(__file__).resolve().parent / "static"
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css",
          ".svg": "image/svg+xml"}

router = APIRouter(tags=["console"], include_in_schema=False)

# Every console answer: nothing but the console's own files runs, nothing frames it, nothing leaks the
# address of the page, nothing is sniffed into another type.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
                               "object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@router.get("/", operation_id="root")
async def root() -> RedirectResponse:
    """The console is the home page."""
    return RedirectResponse("/console/", headers=SECURITY_HEADERS)


@router.get("/console", operation_id="console_redirect")
async def console_redirect() -> RedirectResponse:
    return RedirectResponse("/console/", headers=SECURITY_HEADERS)


@router.get("/console/", operation_id="console")
async def console() -> FileResponse:
    """The console page."""
    return FileResponse(STATIC / "index.html", media_type=_TYPES[".html"],
                        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})


@router.get("/console/agenda/{practitioner_id:uuid}/{slot_id:uuid}", operation_id="console_agenda")
async def console_agenda() -> FileResponse:
    """The booking page a Slot's ``comment`` names (the national platform's link, to which it appends
    ``origin=sas``): the console, which opens the slot in its doctor's agenda once the regulator is signed in."""
    return await console()


@router.get("/console/{name:path}", operation_id="console_asset")
async def console_asset(name: str) -> FileResponse:
    """Console assets (script modules, style)."""
    # The script is ES modules importing each other by relative paths (views/): any depth under
    # the folder, nothing above it (a resolved `..` or a link out is refused).
    path = (STATIC / name).resolve()
    if not path.is_relative_to(STATIC) or not path.is_file():
        from app.platform.errors import NotFound

        raise NotFound(f"No console asset {name}")
    return FileResponse(path, media_type=_TYPES.get(path.suffix, "application/octet-stream"),
                        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})
