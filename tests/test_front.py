"""The front: Debian's nginx with deploy/nginx/'s configuration before a served app closes what uvicorn
would keep open (a header trickled line by line, a connection that says nothing), replaces the forwarding
headers a client wrote, and passes the live stream on as it comes."""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from app.auth.tokens import create_token
from app.console.api_router import PING_SECONDS
from app.platform.config import Settings
from tests.support.database import TEST_SECRET
from tests.support.factories import NEW_CALL
from tests.support.front import nginx, nginx_binary, render
from tests.support.processes import free_port
from tests.support.serving import served

pytestmark = pytest.mark.skipif(nginx_binary() is None and not os.environ.get("SNP_REQUIRE_NGINX"),
                                reason="nginx is installed by `make test`")

# Short in the test's rendering of the template, so that the test takes seconds.
HEADER_TIMEOUT, KEEPALIVE = 1.0, 1.0
TIMEOUTS = {"client_header_timeout": "1s", "client_body_timeout": "1s", "keepalive_timeout": "1s",
            "send_timeout": "2s"}
SLACK = 1.5  # nginx's timers fire within its event loop's granularity


@pytest.fixture(scope="module")
def app_url(database_url: str) -> Iterator[str]:
    # Rate limits on, and nobody trusted: the app must see every client of this nginx as the nginx itself.
    env = {"SNP_RATE_LIMITS_ENABLED": "true", "SNP_RATE_LIMITS": json.dumps({"self_referral": 3}),
           "SNP_RATE_LIMIT_SYNC_SECONDS": "60"}
    with served(database_url, extra_env=env) as base:
        yield base


@pytest.fixture(scope="module")
def front(app_url: str, tmp_path_factory) -> Iterator[str]:
    with nginx(tmp_path_factory.mktemp("nginx"), app_url.removeprefix("http://"), TIMEOUTS) as port:
        yield f"http://127.0.0.1:{port}"


def _address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def _seconds_until_closed(connection: socket.socket, trickle: bytes | None, limit: float) -> float:
    """Seconds until the server closes ``connection`` (sending ``trickle`` every 0.25 s meanwhile)."""
    started = time.monotonic()
    connection.settimeout(0.25)
    while time.monotonic() - started < limit:
        try:
            if connection.recv(65536) == b"":
                return time.monotonic() - started
        except TimeoutError:
            pass
        except ConnectionError:
            return time.monotonic() - started
        if trickle is not None:
            try:
                connection.sendall(trickle)
            except OSError:
                return time.monotonic() - started
    return float("inf")


class TestSlowClients:
    def test_a_header_trickled_line_by_line_is_cut_at_the_header_timeout(self, front: str) -> None:
        with socket.create_connection(_address(front)) as connection:
            connection.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
            held = _seconds_until_closed(connection, b"X-Trickle: a\r\n", limit=10)
        assert held <= HEADER_TIMEOUT + SLACK

    def test_a_connection_that_says_nothing_is_closed(self, front: str) -> None:
        with socket.create_connection(_address(front)) as connection:
            held = _seconds_until_closed(connection, None, limit=10)
        assert held <= HEADER_TIMEOUT + SLACK

    def test_an_idle_connection_after_a_response_is_closed(self, front: str) -> None:
        with socket.create_connection(_address(front)) as connection:
            connection.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            connection.settimeout(5)
            assert connection.recv(65536).startswith(b"HTTP/1.1 200")
            held = _seconds_until_closed(connection, None, limit=10)
        assert held <= KEEPALIVE + SLACK

    def test_without_the_front_uvicorn_keeps_the_trickling_connection(self, app_url: str) -> None:
        # What the front is for: uvicorn alone still holds the connection when nginx has long closed it.
        with socket.create_connection(_address(app_url)) as connection:
            connection.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
            assert _seconds_until_closed(connection, b"X-Trickle: a\r\n", limit=2 * (HEADER_TIMEOUT + SLACK)) \
                == float("inf")


class _Echo(BaseHTTPRequestHandler):
    """An upstream that answers the headers it received."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class TestForwardingHeaders:
    def test_what_a_client_writes_in_them_is_replaced(self, tmp_path) -> None:
        echo = ThreadingHTTPServer(("127.0.0.1", free_port()), _Echo)
        threading.Thread(target=echo.serve_forever, daemon=True).start()
        try:
            with nginx(tmp_path, f"127.0.0.1:{echo.server_port}", TIMEOUTS) as port:
                seen = httpx.get(f"http://127.0.0.1:{port}/v1/anything", headers={
                    "X-Forwarded-For": "198.51.100.7", "X-Client-Cert": "-----BEGIN CERTIFICATE-----forged",
                    "X-Forwarded-Proto": "https", "Forwarded": "for=198.51.100.7"}).json()
        finally:
            echo.shutdown()
        assert seen["x-forwarded-for"] == "127.0.0.1" and seen["x-forwarded-proto"] == "http"
        assert "x-client-cert" not in seen and "forwarded" not in seen

    def test_forged_addresses_share_one_budget_through_the_front_and_without_it(self, front: str,
                                                                               app_url: str) -> None:
        left = 60 - time.time() % 60
        if left < 3:  # the budgets' minute must not turn between the two halves
            time.sleep(left + 0.5)

        def statuses(base: str, count: int) -> list[int]:
            return [httpx.post(f"{base}/v1/self-referrals/unknown", json={"phone": "0612345678"},
                               headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code for i in range(count)]

        assert [s == 429 for s in statuses(front, 5)] == [False] * 3 + [True] * 2
        # uvicorn runs without proxy headers: a loopback client does not choose its address either.
        assert statuses(app_url, 3) == [429] * 3


class TestLiveStream:
    def test_the_stream_is_neither_buffered_nor_cut_between_two_heartbeats(self) -> None:
        block = render("127.0.0.1:1", "127.0.0.1:2", {}).split("location = /v1/stream {", 1)[1].split("}", 1)[0]
        assert "proxy_buffering off;" in block
        read_timeout = int(re.search(r"proxy_read_timeout (\d+)s;", block).group(1))  # type: ignore[union-attr]
        assert read_timeout > PING_SECONDS

    def test_events_pass_through_as_they_come(self, front: str) -> None:
        settings = Settings(jwt_secret=TEST_SECRET)
        operator = {"Authorization": "Bearer " + create_token(settings, role="operator", territories=["36"])}
        with httpx.Client(base_url=front, headers=operator, timeout=10) as client, \
                client.stream("GET", "/v1/stream") as stream:
            assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            assert next(line for line in lines if line.startswith("event:")) == "event: ready"
            started = time.monotonic()
            made = client.post("/v1/calls", json=NEW_CALL)
            assert made.status_code == 201, made.text
            assert next(line for line in lines if line.startswith("event:")) == "event: call.created"
            assert time.monotonic() - started < 5
