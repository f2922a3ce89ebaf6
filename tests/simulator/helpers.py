"""Two days of the Indre simulated against the suite's shared served app, and what the simulator says it did."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.command_line import simulator
from tests.support.database import TEST_SECRET
from tests.support.serving import sharing


def two_days_of_the_indre(database_url: str, shared_base: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                          *options: str) -> tuple[Any, dict[str, Any]]:
    """``simulate --profile indre --days 2`` (and ``options``) run to its end without an error: its result (the
    command's output) and its summary (``--summary-json``)."""
    out = tmp_path / "summary.json"
    with sharing(shared_base, database_url) as base:
        result = simulator(database_url, monkeypatch, "simulate", "--url", base, "--profile", "indre", "--days",
                           "2", *options, "--summary-json", str(out), SNP_JWT_SECRET=TEST_SECRET)
        assert result.exit_code == 0, result.output
    summary = json.loads(out.read_text())
    assert summary["errors"] == {}, summary["first_errors"]
    return result, summary
