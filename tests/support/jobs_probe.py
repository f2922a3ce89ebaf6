"""Jobs for the job pool's own test: importable by its worker processes."""

from __future__ import annotations

import time


def spin(seconds: float) -> float:
    """Hold the CPU for ``seconds`` (the GIL too, as a parser would)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return seconds


def allocate(megabytes: int) -> int:
    """Ask for ``megabytes`` of memory at once, and touch it."""
    block = bytearray(megabytes * 1024 * 1024)
    block[::4096] = b"\1" * len(block[::4096])
    return megabytes
