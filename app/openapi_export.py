"""The OpenAPI document as committed in ``openapi/openapi.json``."""

from __future__ import annotations

import json


def render() -> str:
    from app.main import create_app
    from app.platform.config import Settings

    document = create_app(Settings(env="test")).openapi()
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
