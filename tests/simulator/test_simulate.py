"""``python -m tools.simulator simulate`` plays two days of the Indre through the public API of a served
instance: the report's shares fall within a few points of the Indre's 42 / 37 / 14 / 8, and the report
counts exactly what the simulator says it did (the report read before and after, so that nothing else
counts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.simulator.helpers import two_days_of_the_indre

INDRE = {"advice": 0.42, "slot": 0.37, "prescription": 0.14, "other": 0.08}


def test_two_days_of_the_indre_give_its_mix_and_the_report_counts_what_the_simulator_did(
    database_url: str, shared_base: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result, summary = two_days_of_the_indre(database_url, shared_base, monkeypatch, tmp_path)
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

