"""The frame of the public pages a signed link opens (the patient's cancel page, the doctor's answer, the patient's
own request): French, without JavaScript, never cached, indexed or told where they were opened from."""

from __future__ import annotations

import html

# What every such page is answered with: a link is a right, and must not linger in a cache, a search engine or a
# Referer sent to another site.
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


def document(title: str, body: str, style: str) -> str:
    """A whole HTML page: ``title`` as its title and first heading, ``body`` (already escaped) under it."""
    return ('<!doctype html><html lang="fr"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="robots" content="noindex"><title>{html.escape(title)}</title><style>{style}</style>'
            f"</head><body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>")
