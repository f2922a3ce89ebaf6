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
