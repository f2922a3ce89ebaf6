"""What a SAS's days look like, as numbers: the simulator's profiles and the plan of calls they give,
deterministic for a seed.

The Indre's 2022 figures (DOMAIN.md): 17 232 calls, 1 436 a month; per call, advice 7 297, slot 6 438,
prescription 2 353, other 1 444 — 300 more decisions than calls, so 300 calls carry two kinds (here:
advice and a prescription). Calls come by hour of day (night low, a morning and an evening peak), by day
of week (weekends and Monday highest: the surgeries are closed or full; Sunday morning the busiest
hours of the week) and by season (winter highest).

The mix is allotted by quota, not drawn at random: after every call, each kind's count is within one of
its exact share of the calls so far, so two simulated days already show the Indre's shares.

Patients without a médecin traitant (issue 29): about 1 in 10 of the patients the regulation handles has
none — the share the Pays de Redon's access programme meets in its SNP patients (``Profile.without_mt_share``).
What becomes of each request is planned here too, by quota (``MtPlan``): the simulator plays it through the API.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from zoneinfo import ZoneInfo

INDRE_CALLS_PER_MONTH = 1436
# Calls by what was decided (one category per call; AP: advice and a prescription).
INDRE_MIX = {"A": 7297 - 300, "S": 6438, "P": 2353 - 300, "O": 1444, "AP": 300}
KINDS = {"A": ("advice",), "S": ("slot",), "P": ("prescription",), "O": ("other",), "AP": ("advice", "prescription")}
OTHER_REASONS = (("no_answer", 5), ("redirected_15", 3), ("redirected_ed", 1), ("other", 1))
# Hour-of-day weights (local time) on weekdays and at weekends.
WEEKDAY_HOURS = (1, 1, 1, 1, 1, 1, 2, 4, 7, 9, 9, 8, 6, 6, 6, 6, 7, 8, 9, 8, 6, 4, 2, 1)
WEEKEND_HOURS = (2, 1, 1, 1, 1, 1, 2, 5, 10, 13, 13, 11, 8, 7, 7, 7, 7, 8, 8, 7, 6, 4, 3, 2)
DAY_OF_WEEK = (1.15, 0.95, 0.9, 0.9, 0.95, 1.2, 1.35)  # Monday … Sunday
SEASON = (1.2, 1.15, 1.05, 0.95, 0.9, 0.85, 0.9, 0.95, 0.9, 1.0, 1.05, 1.2)  # January … December
DAYS_PER_MONTH = 365.25 / 12
# What becomes of a request of a patient without a médecin traitant by the end of the run: found (a doctor
# accepted him and the first consultation is confirmed), accepted (not yet seen), proposed (the doctor has not
# answered), waiting (the coordination has not got to him), closed (without a doctor found here).
MT_FATES = (("found", 4), ("accepted", 2), ("proposed", 1), ("waiting", 2), ("closed", 1))
MT_CLOSED_REASONS = (("found_elsewhere", 3), ("unreachable", 2), ("moved", 1), ("deceased", 0.5))
# A third of the requests a doctor is proposed for meet a refusal first (app/mt/schemas.py's reasons).
MT_REFUSED_FIRST = 1 / 3
MT_REFUSAL_REASONS = (("no_capacity", 2), ("too_far", 2), ("patient_known", 1), ("publics", 1), ("other", 1))
# What the patients declare (the age publics come from the birth year): a quarter in ALD, one in ten a disability.
MT_ALD_SHARE = 0.25
MT_DISABILITY_SHARE = 0.10


@dataclass(frozen=True)
class Profile:
    name: str
    # Département code -> calls a month (the year's average).
    monthly_calls: dict[str, float]
    doctors_per_departement: int
    ed_share_of_slots: float = 0.10  # slot orientations made by the ED (redirections), not by the 15
    second_line_share: float = 0.17  # calls that came through the 116 117 rather than the 15
    cancellation_rate: float = 0.04
    noshow_rate: float = 0.06
    # Of the patients the regulation handles (not the ED's redirections), those without a médecin traitant: about
    # 1 in 10 in a territory like Pays de Redon.
    without_mt_share: float = 0.10
    # Of the doctors, those who take new patients as their médecin traitant (every third, 2 to 5 a month).
    new_patients_every: int = 3
    timezone: str = "Europe/Paris"

    @property
    def departements(self) -> list[str]:
        return list(self.monthly_calls)


def _postcodes() -> dict[str, list[tuple[str, float, float]]]:
    """Postcodes with coordinates, by département (La Poste, as app/reference copied it)."""
    found: dict[str, list[tuple[str, float, float]]] = {}
    text = (resources.files("app.reference") / "fr-postcodes.csv").read_text(encoding="utf-8")
    for row in csv.DictReader(io.StringIO(text), delimiter=";"):
        if not row["lat"] or not row["lon"]:
            continue  # a few postcodes have no coordinates
        for departement in row["departements"].split("|"):
            found.setdefault(departement, []).append((row["postcode"], float(row["lat"]), float(row["lon"])))
    return found


POSTCODES = _postcodes()


def _france() -> dict[str, float]:
    """The Indre's rate scaled to France (about 450 000 calls a month, DOMAIN.md), shared between the
    départements by their number of postcodes, a rough stand-in for their population."""
    metropolitan_and_overseas = {d: len(p) for d, p in POSTCODES.items() if len(d) <= 3}
    total = sum(metropolitan_and_overseas.values())
    return {d: 450_000 * n / total for d, n in sorted(metropolitan_and_overseas.items())}


PROFILES = {
    "indre": Profile("indre", {"36": INDRE_CALLS_PER_MONTH}, doctors_per_departement=24),
    "france": Profile("france", _france(), doctors_per_departement=24),
}


@dataclass(frozen=True)
class MtPlan:
    """A patient without a médecin traitant: what he declares and what becomes of his request."""

    publics: tuple[str, ...]  # declared: ald, disability
    fate: str  # found, accepted, proposed, waiting, closed (MT_FATES)
    refusal: str | None = None  # a doctor refuses him first, with this reason
    closed_reason: str | None = None


@dataclass
class PlannedCall:
    number: int
    at: dt.datetime  # when it arrives (simulated time, UTC)
    departement: str
    category: str  # A, S, P, O, AP
    channel: str  # 15, 116117, urgences
    priority: str
    intent: str
    postcode: str
    other_reason: str | None = None
    cancelled: bool = False
    noshow: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    mt: MtPlan | None = None  # the patient has no médecin traitant

    @property
    def kinds(self) -> tuple[str, ...]:
        return KINDS[self.category]


class Quota:
    """Smooth weighted round robin: each pick goes to the category furthest behind its share."""

    def __init__(self, weights: Mapping[str, float]) -> None:
        self.weights = weights
        self.total = sum(weights.values())
        self.given = dict.fromkeys(weights, 0)
        self.count = 0

    def pick(self) -> str:
        self.count += 1
        best = max(self.weights, key=lambda c: self.count * self.weights[c] / self.total - self.given[c])
        self.given[best] += 1
        return best


def _day_count(profile: Profile, departement: str, day: dt.date) -> float:
    per_day = profile.monthly_calls[departement] / DAYS_PER_MONTH
    return per_day * DAY_OF_WEEK[day.weekday()] * SEASON[day.month - 1] / _mean_factor()


def _mean_factor() -> float:
    return (sum(DAY_OF_WEEK) / 7) * (sum(SEASON) / 12)


def plan(profile: Profile, start: dt.datetime, days: float, seed: int = 1) -> list[PlannedCall]:
    """The calls of ``days`` days from ``start``, in the order they arrive."""
    rng = random.Random(seed)
    zone = ZoneInfo(profile.timezone)
    end = start + dt.timedelta(days=days)
    arrivals: list[tuple[dt.datetime, str]] = []
    for departement in profile.departements:
        carried = rng.random()  # where the fractional calls of the days fall, per département
        day = start.astimezone(zone).date()
        while dt.datetime.combine(day, dt.time(0), zone) < end:
            expected = _day_count(profile, departement, day) + carried
            count = int(expected)
            carried = expected - count
            hours = WEEKEND_HOURS if day.weekday() >= 5 else WEEKDAY_HOURS
            for _ in range(count):
                hour = rng.choices(range(24), weights=hours)[0]
                at = dt.datetime.combine(day, dt.time(hour), zone) + dt.timedelta(seconds=rng.uniform(0, 3600))
                if start <= at < end:
                    arrivals.append((at.astimezone(dt.UTC), departement))
            day += dt.timedelta(days=1)
    arrivals.sort()
    mix = Quota(INDRE_MIX)
    reasons = Quota(dict(OTHER_REASONS))
    ed = Quota({"ed": profile.ed_share_of_slots, "15": 1 - profile.ed_share_of_slots})
    line = Quota({"116117": profile.second_line_share, "15": 1 - profile.second_line_share})
    cancelled = Quota({"yes": profile.cancellation_rate, "no": 1 - profile.cancellation_rate})
    noshow = Quota({"yes": profile.noshow_rate, "no": 1 - profile.noshow_rate})
    mt = _MtQuotas(profile)
    calls = []
    for number, (at, departement) in enumerate(arrivals, start=1):
        category = mix.pick()
        channel = "urgences" if category == "S" and ed.pick() == "ed" else line.pick()
        postcode = rng.choice(POSTCODES.get(departement) or [("75001", 48.86, 2.34)])[0]
        calls.append(PlannedCall(
            number=number, at=at, departement=departement, category=category, channel=channel,
            priority=rng.choices(("P1", "P2", "P3"), weights=(2, 5, 3))[0],
            intent=rng.choices(("urgences", "medecin", "pharmacie", "rien", "inconnu"), weights=(4, 3, 1, 1, 1))[0],
            postcode=postcode, other_reason=reasons.pick() if category == "O" else None,
            cancelled=category == "S" and cancelled.pick() == "yes", noshow=category == "S" and noshow.pick() == "yes"))
        if channel != "urgences":  # the ED's nurse books a slot; the regulation asks the patient about his MT
            calls[-1].mt = mt.pick()
    return calls


class _MtQuotas:
    """Who of the regulated patients has no médecin traitant, and what becomes of his request, by quota."""

    def __init__(self, profile: Profile) -> None:
        share = profile.without_mt_share
        self.without = Quota({"yes": share, "no": 1 - share})
        self.ald = Quota({"yes": MT_ALD_SHARE, "no": 1 - MT_ALD_SHARE})
        self.disability = Quota({"yes": MT_DISABILITY_SHARE, "no": 1 - MT_DISABILITY_SHARE})
        self.fates = Quota(dict(MT_FATES))
        self.closed = Quota(dict(MT_CLOSED_REASONS))
        self.refused = Quota({"yes": MT_REFUSED_FIRST, "no": 1 - MT_REFUSED_FIRST})
        self.refusals = Quota(dict(MT_REFUSAL_REASONS))

    def pick(self) -> MtPlan | None:
        if self.without.pick() == "no":
            return None
        publics = tuple(p for p, quota in (("ald", self.ald), ("disability", self.disability)) if quota.pick() == "yes")
        fate = self.fates.pick()
        if fate == "closed":
            return MtPlan(publics, fate, closed_reason=self.closed.pick())
        refusal = None
        if fate != "waiting" and self.refused.pick() == "yes":
            refusal = self.refusals.pick()
        return MtPlan(publics, fate, refusal=refusal)
