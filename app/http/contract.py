"""The OpenAPI document as the API really answers: one error model everywhere.

FastAPI documents every 422 as its own ``HTTPValidationError``, which this API never sends, and knows
nothing of the answers its handlers give to an unreadable body (400), a body or headers too large for
the door (413, 431: app/http/limits.py) or an unreachable database (503).
The document is generated as usual, then each operation's error answers are pointed at ``ErrorBody``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.http.errors import error_responses
from app.http.routes import policy_for

ERROR_REF = "#/components/schemas/ErrorBody"
# Answers that come before any database work: no 503 documented for them.
WITHOUT_DATABASE = {"/health", "/metrics"}



def _error(code: int) -> dict[str, Any]:
    description = error_responses(code)[code]["description"]
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ERROR_REF}}}}


def contract(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document (built once), with the API's own error model."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if "422" in responses:
                described = responses["422"].get("description")
                # An HTML page (a form of a signed link) says its own 422 as the page again; a path it cannot read
                # (a token too long) is refused in JSON before it, like everywhere.
                html = "text/html" in responses["422"].get("content", {})
                responses["422"] = _error(422)
                if html:
                    responses["422"]["content"]["text/html"] = {"schema": {"type": "string"}}
                if described and described not in ("Validation Error", "Unprocessable Entity"):
                    responses["422"]["description"] = described
            if "requestBody" in operation:
                responses.setdefault("400", _error(400))
                responses.setdefault("413", _error(413))
            responses.setdefault("431", _error(431))
            if policy_for(method.upper(), path).limited:
                responses.setdefault("429", _error(429))
            if path not in WITHOUT_DATABASE and path != "/ready":
                responses.setdefault("503", _error(503))
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    _fhir_errors(schema, components)
    app.openapi_schema = schema
    return schema


OUTCOME = {
    "type": "object", "required": ["resourceType", "issue"],
    "description": "A FHIR OperationOutcome: the facade's errors (the API's ErrorBody, in FHIR's words)",
    "properties": {
        "resourceType": {"const": "OperationOutcome"},
        "issue": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["severity", "code"],
            "properties": {"severity": {"type": "string"}, "code": {"type": "string"},
                           "diagnostics": {"type": "string"},
                           "expression": {"type": "array", "items": {"type": "string"}}}}},
    },
}


def _fhir_errors(schema: dict[str, Any], components: dict[str, Any]) -> None:
    """Under /fhir every error is an OperationOutcome (application/fhir+json), and a refused search
    parameter is a 400."""
    components["OperationOutcome"] = OUTCOME
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith("/fhir"):
            continue
        for method, operation in operations.items():
            responses = operation["responses"]
            if method == "get" and "422" in responses:
                responses.setdefault("400", responses.pop("422"))
            for code, answer in responses.items():
                if not code.startswith("2"):
                    answer["content"] = {"application/fhir+json": {
                        "schema": {"$ref": "#/components/schemas/OperationOutcome"}}}


def install(app: FastAPI) -> None:
    app.openapi = lambda: contract(app)  # type: ignore[method-assign]
