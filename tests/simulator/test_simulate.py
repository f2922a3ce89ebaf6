"""``python -m tools.simulator simulate`` plays two days of the Indre through the public API of a served
instance: the report's shares fall within a few points of the Indre's 42 / 37 / 14 / 8, and the report
counts exactly what the simulator says it did (the report read before and after, so that nothing else
counts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.command_line import simulator
from tests.support.database import TEST_SECRET
from tests.support.serving import sharing

INDRE = {"advice": 0.42, "slot": 0.37, "prescription": 0.14, "other": 0.08}


def test_two_days_of_the_indre_give_its_mix_and_the_report_counts_what_the_simulator_did(
    database_url: str, shared_base: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "summary.json"
    with sharing(shared_base, database_url) as base:
        result = simulator(database_url, monkeypatch, "simulate", "--url", base, "--profile", "indre", "--days",
                           "2", "--summary-json", str(out), SNP_JWT_SECRET=TEST_SECRET)
        assert result.exit_code == 0, result.output
    summary = json.loads(out.read_text())
    assert summary["errors"] == {}, summary["first_errors"]
    calls = summary["calls"]
    assert 80 <= calls <= 130, calls  # two days of 1 436 calls a month, by day of week and season
    assert calls == summary["planned"]
    for kind, share in INDRE.items():
        assert abs(summary["decisions"][kind] / calls - share) <= 0.03, (kind, summary["decisions"])
    # The report says exactly what the simulator did.
    delta = summary["report_delta"]
    assert delta["calls"] == calls
    assert delta["decisions"] == {kind: summary["decisions"].get(kind, 0) for kind in INDRE}
    assert delta["calls_with_several_decisions"] == summary["calls_with_several_decisions"] >= 1
    # Every slot orientation is a booking made through the API, some of them by the ED.
    assert summary["decisions"]["slot"] == summary["bookings"] - summary["reoriented"]
    assert summary["ed_redirections"] >= 1 and summary["by_channel"]["urgences"] == summary["ed_redirections"]
    assert "Simulation « indre »" in result.output and "conseils médicaux" in result.output

