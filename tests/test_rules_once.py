"""Each rule of the product is written once in app/: a second copy would drift from the first."""

from __future__ import annotations

import re
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"


def files_with(pattern: str) -> list[str]:
    """Each file of app/ once per line that matches."""
    found = []
    for path in sorted(APP.rglob("*.py")):
        for line in path.read_text().splitlines():
            if re.search(pattern, line):
                found.append(str(path.relative_to(APP)))
    return found


class TestEachRuleOnce:
    def test_a_slot_is_claimable_in_one_place_owned_by_slots(self):
        # Search, hold, booking and the refusal read all embed slots.repository.CLAIMABLE.
        assert files_with(r"held_by_call_id = :call_id\)") == ["slots/repository.py"]
        assert files_with(r"held_until <= now\(\)") == ["slots/repository.py", "slots/repository.py"]

    def test_the_territory_scope_in_one_place_owned_by_territories(self):
        assert files_with(r"parent_code = ANY|parent_code\.in_|parent_code = :territory") == [
            "territories/repository.py"]

    def test_the_writes_of_a_booking_come_from_the_domains_that_own_the_tables(self):
        # Outside app/, only the benchmark seed (tools/simulator/seed.py) writes calls and decisions: by the set,
        # what years of the service would have written, held to the same rules by the schema's constraints and
        # triggers.
        assert files_with(r"INSERT INTO decisions") == ["calls/repository.py"] * 2  # a slot's, the import's
        assert files_with(r"INSERT INTO calls") == ["calls/repository.py"] * 2  # a direct call, the import
        assert files_with(r"INSERT INTO outbox_events") == ["outbox/events.py"]
        assert files_with(r"'booking_id', b\.id") == ["outbox/events.py"]

    def test_the_report_counters_and_the_callback_delay_are_defined_once(self):
        assert files_with(r"ceil\(EXTRACT\(epoch FROM") == ["stats/facts.py"]
        assert files_with(r"^COUNTERS = ") == ["stats/facts.py"]
        # The definition of a counter (its condition), not the reads of its value.
        assert files_with(r"AS avoided_declared|\"avoided_declared\":") == ["stats/facts.py"]

    def test_the_callback_delay_of_a_call_from_one_set_of_defaults_and_one_fallback(self):
        # The territory's delay for the call's priority, NO_PRIORITY's when it has none: the service says it in
        # Python (a call the API creates), the repository in SQL (an imported call, the call a booking makes); both
        # read the defaults of territories/models.py and the fallback of calls/schemas.py, written nowhere else.
        assert files_with(r'"P1": 20, "P2": 60, "P3": 180') == ["territories/models.py"]
        assert files_with(r"^NO_PRIORITY\b") == ["calls/schemas.py"]
        assert files_with(r"""(\bor |COALESCE\(.*)["']P[123]["']""") == []
        assert files_with(r"def due_at\(") == ["calls/service.py"]
        assert files_with(r"priority_delays ->>") == ["calls/repository.py"]

    def test_the_decision_rules_in_one_place_owned_by_the_call_schemas(self):
        # What a decision of each kind carries, for the API (service.decide) and the import alike; the database's
        # CHECK constraints aside. The kinds and reasons are the schemas' Literals, which the models' tuples read.
        assert files_with(r"""kind [!=]= ["']other["']|kind != ["']prescription["']""") == ["calls/schemas.py"] * 4
        assert files_with(r"def decision_misfit\(") == ["calls/schemas.py"]
        assert files_with(r"""["']advice["'], ["']slot["'], ["']prescription["'], ["']other["']""") == [
            "calls/schemas.py"]
        assert files_with(r"""["']no_answer["'], ["']redirected_15["']""") == ["calls/schemas.py"]
        # Each rule's words: the API's (service.MISFITS) and the import's (import_rows.MISFITS), keyed by the rule.
        assert files_with(r"^MISFITS\b") == ["calls/import_rows.py", "calls/service.py"]
