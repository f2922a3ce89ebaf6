"""openapi/openapi.json is what the app serves: regenerate with `make openapi`."""

from __future__ import annotations

import json
from pathlib import Path

from app.openapi_export import render

SPEC = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"


class TestOpenAPIDocument:
    def test_the_committed_document_matches_the_app(self) -> None:
        assert SPEC.exists(), "run `make openapi`"
        assert json.loads(SPEC.read_text()) == json.loads(render()), "openapi/openapi.json drifted: `make openapi`"

    def test_every_operation_has_a_stable_id_and_a_summary(self) -> None:
        document = json.loads(render())
        ids = []
        for path, item in document["paths"].items():
            for verb, operation in item.items():
                assert operation.get("operationId"), f"{verb.upper()} {path} has no operationId"
                assert operation.get("description") or operation.get("summary"), f"{verb.upper()} {path}"
                ids.append(operation["operationId"])
        assert len(ids) == len(set(ids))
