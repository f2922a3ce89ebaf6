"""``python -m tools.simulator seed`` fills an empty database with a territory's years: practitioners and
sites (COPY), free slots to come that never overlap, past calls in the Indre's mix, recent bookings with
outcomes, every constraint and trigger of the schema holding; and refuses a database that already holds
data."""

from __future__ import annotations

import pytest

from tests.support.command_line import simulator
from tests.support.second_instance import database, sql


def test_seed_fills_an_empty_database_the_way_the_service_would_have(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with database(database_url, "snp_seeded") as url:
        result = simulator(url, monkeypatch, "seed", "--profile", "indre", "--practitioners", "40",
                           "--free-slots", "3000", "--years", "0.5")
        assert result.exit_code == 0, result.output
        [(doctors, free, calls)] = sql(url, "SELECT (SELECT count(*) FROM practitioners), "
                                            "(SELECT count(*) FROM slots WHERE status = 'free' AND start_at > now() "
                                            " AND start_at < now() + interval '90 days'), (SELECT count(*) FROM calls)")
        assert (doctors, free) == (40, 3000)
        assert calls == 8616  # the Indre's 1 436 calls a month, for six months
        # The Indre's mix, per call (a call may carry two kinds), as the report's per-call facts hold it.
        [(advice, slot, prescription, other, several)] = sql(url, """
            SELECT avg((decision_kinds & 1 <> 0)::int), avg((decision_kinds & 2 <> 0)::int),
                   avg((decision_kinds & 4 <> 0)::int), avg((decision_kinds & 8 <> 0)::int),
                   avg((decision_kinds IN (5, 3, 6, 9, 10, 12))::int) FROM calls""")
        for share, expected in ((advice, 0.42), (slot, 0.37), (prescription, 0.14), (other, 0.08)):
            assert abs(float(share) - expected) < 0.02, (advice, slot, prescription, other)
        assert 0.005 < float(several) < 0.04
        # Recent slot orientations are bookings of a doctor of the call's département, named by the decision.
        [(booked, linked, outside, outcomes)] = sql(url, """
            SELECT count(*), count(d.id), count(*) FILTER (WHERE s.territory_code <> c.territory_code),
                   count(b.outcome) FROM bookings b JOIN slots s ON s.id = b.slot_id JOIN calls c ON c.id = b.call_id
            LEFT JOIN decisions d ON d.booking_id = b.id AND d.kind = 'slot'""")
        assert booked > 500 and linked == booked and outside == 0 and outcomes > 0.8 * booked
        again = simulator(url, monkeypatch, "seed", "--profile", "indre", "--practitioners", "5", "--years", "0.1")
        assert again.exit_code == 2 and "empty" in again.output
