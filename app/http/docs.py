"""The API's documentation pages, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), with their scripts and styles
served by the app itself from the ``fastapi-offline`` package (pinned in constraints.txt), never from a CDN:
the pages work on a network that reaches nothing but the service, and a page of the service runs no code
fetched from elsewhere.

Each page answers with a Content-Security-Policy as strict as the pages allow: scripts from the service
only, plus the one inline script that starts Swagger UI, allowed by its hash; ReDoc sets its styles inline
and starts its search in a worker made from a blob. The one thing ReDoc would fetch from elsewhere, its
vendor's badge image, the policy refuses, and ReDoc then hides it."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse

from app.platform.errors import NotFound

ASSETS = Path(fastapi_offline.__file__).resolve().parent / "static"
PREFIX = "/docs/assets"
# The package's files, by name, and the type each is served with: nothing else of the folder is served.
FILES = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8", "swagger-ui.css": "text/css; charset=utf-8",
         "redoc.standalone.js": "text/javascript; charset=utf-8", "favicon.png": "image/png"}
OPENAPI_URL = "/openapi.json"
TITLE = "SNP — Service d'Accès aux Soins"

router = APIRouter(include_in_schema=False)


def _inline_script_hashes(html: str) -> str:
    """The CSP sources allowing exactly the page's inline scripts."""
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts)


def _headers(html: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": f"default-src 'self'; script-src 'self' {_inline_script_hashes(html)}; "
                                   "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
                                   "connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'; "
                                   "base-uri 'none'; form-action 'self'; object-src 'none'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
    }


def _page(response: HTMLResponse) -> HTMLResponse:
    html = bytes(response.body).decode()
    return HTMLResponse(html, headers=_headers(html))


@router.get("/docs", operation_id="docs")
async def swagger_ui() -> HTMLResponse:
    """Swagger UI: every operation, tried from the page with a token (``Authorize``)."""
    return _page(get_swagger_ui_html(
        openapi_url=OPENAPI_URL, title=TITLE, swagger_js_url=f"{PREFIX}/swagger-ui-bundle.js",
        swagger_css_url=f"{PREFIX}/swagger-ui.css", swagger_favicon_url=f"{PREFIX}/favicon.png",
        oauth2_redirect_url="/docs/oauth2-redirect"))


@router.get("/docs/oauth2-redirect", operation_id="docs_oauth2_redirect")
async def swagger_ui_redirect() -> HTMLResponse:
    return _page(get_swagger_ui_oauth2_redirect_html())


@router.get("/redoc", operation_id="redoc")
async def redoc() -> HTMLResponse:
    """ReDoc: the same document, to be read."""
    return _page(get_redoc_html(openapi_url=OPENAPI_URL, title=TITLE, redoc_js_url=f"{PREFIX}/redoc.standalone.js",
                                redoc_favicon_url=f"{PREFIX}/favicon.png", with_google_fonts=False))


@router.get(PREFIX + "/{name}", operation_id="docs_asset")
async def asset(name: str) -> FileResponse:
    """A script, style or icon of the documentation pages, from the package."""
    media_type = FILES.get(name)
    if media_type is None:
        raise NotFound(f"No documentation asset {name}")
    return FileResponse(ASSETS / name, media_type=media_type,
                        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"})
