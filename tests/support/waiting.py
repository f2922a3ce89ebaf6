"""Waiting, in a test, for what another process does in its own time (a relay, a broker, a schedule)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(what: Callable[[], Any], predicate: Callable[[Any], bool], seconds: float = 15.0) -> Any:
    """``what()`` again every 0.2 s until ``predicate`` holds of it or ``seconds`` are over; its last value."""
    deadline = time.monotonic() + seconds
    while True:
        value = what()
        if predicate(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)
