"""The national SAS platform's appointment endpoint, played on loopback: it records every declaration
(method, query, FrAppointmentSAS) and refuses, as the platform would (422 and an OperationOutcome), the
appointments whose identifier value ends with one of ``refuse``, or all of them while ``refusing``."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

REFUSAL = "Le professionnel de santé n'est pas connu de la plateforme numérique SAS"


class Platform:
    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[tuple[str, dict[str, list[str]], dict[str, Any]]] = []
        self.refuse: set[str] = set()
        self.refusing = False  # every appointment refused
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def _declare(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                value = body["identifier"][0]["value"]
                if platform.refusing or any(value.endswith(refused) for refused in platform.refuse):
                    outcome = {"resourceType": "OperationOutcome", "issue": [{
                        "severity": "error", "code": "business-rule", "diagnostics": REFUSAL}]}
                    self._answer(422, outcome)
                    return
                platform.received.append((self.command, parse_qs(urlsplit(self.path).query), body))
                self._answer(201 if self.command == "POST" else 200, body)

            do_POST = do_PUT = _declare  # noqa: N815 - http.server's naming

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Platform:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def of(self, booking_id: str) -> list[tuple[str, str, dict[str, Any]]]:
        """What it accepted of one appointment, in order: (method, status, operator identifier)."""
        found = []
        for method, _, body in list(self.received):
            if body["identifier"][0]["value"].endswith(booking_id):
                operator = body.get("extension", [{}])[0].get("valueReference", {}).get("identifier")
                found.append((method, body["status"], operator))
        return found
