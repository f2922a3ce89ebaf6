"""What the command lines of every domain read alike."""

from __future__ import annotations

import re

import typer

_TTL = re.compile(r"^(\d+)([smhd]?)$")


def parse_ttl(value: str) -> int:
    match = _TTL.match(value.strip())
    if not match:
        raise typer.BadParameter("use e.g. 900, 15m, 8h or 7d")
    number, unit = int(match.group(1)), match.group(2) or "s"
    return number * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
