"""The operator console: a French single page served with the API (no build step, no framework)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

STATIC = Path(__file__).resolve().parent / "static"
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css"}

router = APIRouter(tags=["console"], include_in_schema=False)


@router.get("/", operation_id="root")
async def root() -> RedirectResponse:
    """The console is the home page."""
    return RedirectResponse("/console/")


@router.get("/console", operation_id="console_redirect")
async def console_redirect() -> RedirectResponse:
    return RedirectResponse("/console/")


@router.get("/console/", operation_id="console")
async def console() -> FileResponse:
    """The console page."""
    return FileResponse(STATIC / "index.html", media_type=_TYPES[".html"])


@router.get("/console/{name}", operation_id="console_asset")
async def console_asset(name: str) -> FileResponse:
    """Console assets (script, style)."""
    path = (STATIC / name).resolve()
    if path.parent != STATIC or not path.is_file():
        from app.errors import NotFound

        raise NotFound(f"No console asset {name}")
    return FileResponse(path, media_type=_TYPES.get(path.suffix, "application/octet-stream"))
