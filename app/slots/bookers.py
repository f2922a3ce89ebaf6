"""Who may book a slot (``bookable_by``), distinct from the patients it is for (``audience``).

A slot names the bookers it is open to, a set among:

- ``regulation``: the SAS regulation (operators and regulating doctors);
- ``urgences``: emergency departments redirecting patients;
- ``referrers``: city professionals referring patients (pharmacists, nurses, medical secretaries…);
- ``cpts``: the CPTS's own professionals (a referrer whose token names the slot's CPTS).

It is kept as a bit mask (``slots.bookable_by``, all four by default), read in the SQL that claims a
slot (``slots.repository.CLAIMABLE``), so that a slot veiled from a role is neither found nor held
nor booked by it. ``release_before`` (an interval before the start) opens the slot to every booker
from then on: a filière gives back the slots it has not used before they are lost.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

Booker = Literal["regulation", "urgences", "referrers", "cpts"]
BOOKER_BITS: dict[str, int] = {"regulation": 1, "urgences": 2, "referrers": 4, "cpts": 8}
CPTS_BIT = BOOKER_BITS["cpts"]
EVERYONE = sum(BOOKER_BITS.values())
ALL_BOOKERS: list[Booker] = ["regulation", "urgences", "referrers", "cpts"]

# The booker class of each role that books (an admin books as any of them); the national platform's users
# are regulators.
ROLE_BOOKERS = {"operator": "regulation", "regulator": "regulation", "urgences": "urgences",
                "referrer": "referrers", "platform": "regulation"}


def mask(bookers: Iterable[str]) -> int:
    return sum(BOOKER_BITS[b] for b in set(bookers))


def names(value: int) -> list[Booker]:
    return [b for b in ALL_BOOKERS if value & BOOKER_BITS[b]]


def params(role: str, territories: Iterable[str]) -> dict[str, Any]:
    """The parameters of ``CLAIMABLE`` for a principal: its booker bits, and the CPTS it is a member of
    (a referrer's own territories)."""
    if role == "admin":
        return {"bookers": EVERYONE, "member_of": []}
    bits = BOOKER_BITS[ROLE_BOOKERS[role]] if role in ROLE_BOOKERS else 0
    return {"bookers": bits, "member_of": list(territories) if role == "referrer" else []}
