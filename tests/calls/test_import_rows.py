"""Row validation of the import, on generated rows (no database needed)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.calls import importer
from app.calls.models import OTHER_REASONS

HEADER = "external_id,territory_code,channel,received_at,decisions"
token = st.one_of(st.sampled_from(["advice", "slot", "prescription"]),
                  st.sampled_from(OTHER_REASONS).map(lambda r: f"other:{r}"))


def parse_one(decisions: str):
    body = f"{HEADER}\nX-1,36,15,2022-01-03T10:00:00+01:00,{decisions}\n".encode()
    return importer.parse(body, "csv", skew_seconds=120)


class TestDecisionStrings:
    @settings(max_examples=200, deadline=None)
    @given(st.lists(token, min_size=1, max_size=4))
    def test_every_list_of_valid_kinds_is_read_back_in_order(self, tokens):
        rows, errors = parse_one("|".join(tokens))
        assert errors == []
        written = [kind if reason is None else f"{kind}:{reason}" for kind, reason, _, _ in rows[0].decisions]
        assert written == tokens

    @settings(max_examples=200, deadline=None)
    @given(st.lists(token, max_size=3), st.text(alphabet="abcdefghijklmnopqrstuvwxyz_:", min_size=1, max_size=12))
    def test_anything_else_in_the_list_rejects_the_row(self, tokens, intruder):
        valid = {"advice", "slot", "prescription"} | {f"other:{r}" for r in OTHER_REASONS}
        if intruder in valid:
            return
        rows, errors = parse_one("|".join([*tokens, intruder]))
        assert rows == [] and [e["field"] for e in errors] == ["decisions"]

    def test_a_kind_with_an_empty_reason_is_rejected(self):
        rows, errors = parse_one("advice:")
        assert rows == [] and [e["field"] for e in errors] == ["decisions"]
