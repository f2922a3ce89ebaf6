"""A real SMTP server on loopback for each test that wants one."""

from __future__ import annotations

import pytest

from tests.notices.helpers import SmtpServer
from tests.support.processes import free_port


@pytest.fixture
def smtp():
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()
