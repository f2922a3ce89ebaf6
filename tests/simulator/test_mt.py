"""``python -m tools.simulator simulate`` plays patients without a médecin traitant through the public API: about
1 in 10 of the patients the regulation handles is put on the waiting list from his call, the coordinator proposes
the doctors who take new patients, they refuse or accept, the first consultations are confirmed, some requests are
closed and some wait — and the monthly report's MT indicators (read before and after the run) equal what the
simulator says it did."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

from tests.simulator.helpers import two_days_of_the_indre
from tools.simulator.plan import MT_FATES, PROFILES, plan

# The report names the refusal reason patient_known already_known (no column of it names a patient).
REPORTED_AS = {"patient_known": "already_known"}


def test_patients_without_a_medecin_traitant_are_placed_and_the_report_counts_what_the_simulator_did(
    database_url: str, shared_base: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result, summary = two_days_of_the_indre(database_url, shared_base, monkeypatch, tmp_path, "--seed", "2")
    mt = summary["mt"]

    # The stated share: 1 in 10 of the patients the regulation handled (the ED's redirections are no call of it).
    regulated = summary["calls"] - summary["ed_redirections"]
    share = PROFILES["indre"].without_mt_share
    assert mt["requests"] >= 6 and abs(mt["requests"] - share * regulated) <= 1, (mt["requests"], regulated)
    assert mt["requests_by_source"] == {"regulation": mt["requests"]}
    # Every doctor of three takes new patients, 2 to 5 a month.
    assert mt["offers"] == PROFILES["indre"].doctors_per_departement // PROFILES["indre"].new_patients_every
    # Each way a request goes was played (the fates are allotted by quota, so even six requests hold them all):
    # refused then proposed to another doctor, accepted, found, closed, left waiting or proposed.
    assert sum(mt["refusals_by_reason"].values()) >= 1 and mt["proposals"] > mt["accepted"]
    assert mt["found"] >= 2 and mt["accepted"] > mt["found"]
    assert sum(mt["closed_by_reason"].values()) >= 1
    assert mt["states"]["waiting"] >= 1 and mt["states"]["proposed"] >= 1
    assert mt["no_candidate"] == 0
    assert sum(mt["states"].values()) == mt["requests"]

    # The report says exactly what the simulator did.
    reported = summary["report_delta"]["mt"]
    assert reported["mt_requests"] == mt["requests"]
    assert reported["requests_by_source"] == {
        source: mt["requests_by_source"].get(source, 0) for source in reported["requests_by_source"]}
    assert reported["mt_found"] == mt["found"]
    assert reported["accepted"] == mt["accepted"]
    assert reported["mt_waiting"] == mt["waiting"] == mt["requests"] - mt["found"] - sum(
        mt["closed_by_reason"].values())
    assert reported["refusals_by_reason"] == {
        reason: mt["refusals_by_reason"].get(next((k for k, v in REPORTED_AS.items() if v == reason), reason), 0)
        for reason in reported["refusals_by_reason"]}
    assert reported["closed_by_reason"] == {
        reason: mt["closed_by_reason"].get(reason, 0) for reason in reported["closed_by_reason"]}
    assert reported["mt_median_days_to_find"] == mt["median_days_to_find"] is not None
    assert reported["doctors_accepting_now"] == mt["offers"]
    assert reported["places_per_month_now"] == mt["places_per_month"]
    assert "sans médecin traitant" in result.output


def test_a_planned_month_holds_its_share_of_patients_without_a_medecin_traitant_and_their_fates_by_quota() -> None:
    profile = PROFILES["indre"]
    calls = plan(profile, dt.datetime(2026, 3, 1, tzinfo=dt.UTC), 30, seed=1)
    regulated = [c for c in calls if c.channel != "urgences"]
    without = [c.mt for c in regulated if c.mt is not None]
    assert all(c.mt is None for c in calls if c.channel == "urgences")  # the ED's nurse asks nothing of it
    assert abs(len(without) - profile.without_mt_share * len(regulated)) <= 1, (len(without), len(regulated))
    assert len(without) >= 100  # a month of the Indre
    total = sum(weight for _, weight in MT_FATES)
    fates = Counter(m.fate for m in without)
    for fate, weight in MT_FATES:
        assert abs(fates[fate] - len(without) * weight / total) <= 1, fates
    closed = [m for m in without if m.fate == "closed"]
    assert all(m.closed_reason for m in closed) and all(m.refusal is None for m in closed)
    assert all(m.refusal is None for m in without if m.fate == "waiting")
    assert Counter(p for m in without for p in m.publics)["ald"] == pytest.approx(len(without) / 4, abs=1)
    # The same seed, the same patients.
    again = plan(profile, dt.datetime(2026, 3, 1, tzinfo=dt.UTC), 30, seed=1)
    assert [c.mt for c in again] == [c.mt for c in calls]
