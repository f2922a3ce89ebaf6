"""The SMS gateway adapter (Brevo's transactional SMS API) as a real HTTP request to a receiver on loopback: the
documented request shape, the message id as its tag, a refusal kept as undelivered; and the outbound guard
refusing an internal gateway no setting allows."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from app.notices.providers import Brevo, Undelivered
from app.platform.outbound import InternalTarget


class _Gateway(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, str], dict]] = []
    status = 201

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append((self.path, dict(self.headers), body))
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"messageId": 1511882900176220}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def gateway():
    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    _Gateway.received, _Gateway.status = [], 201
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v3/transactionalSMS/send"
    server.shutdown()


class TestBrevo:
    async def test_an_sms_goes_as_the_documented_request_with_its_id_as_tag(self, gateway) -> None:
        provider = Brevo(gateway, "api-key-1", "SAS 36", ["127.0.0.1"], 5.0, allow_plain_http=True)
        try:
            await provider.send("7f0c1c1e-0000-4000-8000-000000000001", "+262692123456", "SAS 36: RDV")
        finally:
            await provider.close()
        path, headers, body = _Gateway.received[0]
        assert path == "/v3/transactionalSMS/send" and headers["api-key"] == "api-key-1"
        assert body == {"sender": "SAS 36", "recipient": "262692123456", "content": "SAS 36: RDV",
                        "type": "transactional", "tag": "7f0c1c1e-0000-4000-8000-000000000001"}

    async def test_a_refusal_is_undelivered_with_its_status(self, gateway) -> None:
        _Gateway.status = 503
        provider = Brevo(gateway, "k", "SAS", ["127.0.0.1"], 5.0, allow_plain_http=True)
        try:
            with pytest.raises(Undelivered, match="HTTP 503"):
                await provider.send("id", "+33612345678", "x")
        finally:
            await provider.close()

    def test_an_internal_gateway_is_refused_unless_allowed(self) -> None:
        with pytest.raises(InternalTarget):
            Brevo("https://127.0.0.1/v3/transactionalSMS/send", "k", "SAS", [], 5.0, allow_plain_http=False)
