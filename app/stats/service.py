"""The monthly report: who may read it, over which territories and months, and how estimates are made.

Counting rules (the Indre publication's): a decision kind counts the *calls* carrying at least one
decision of that kind, its share is over calls, and a call counts in
``calls_with_several_decisions`` when it carries decisions of two or more *distinct* kinds (two
prescriptions on one call are one kind). Shares and rates with an empty denominator are 0.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, get_args

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.calls.models import CHANNELS, DECISION_KINDS, OTHER_REASONS
from app.mt.schemas import ClosedReason, RefusalReason, Source
from app.platform.config import Settings
from app.platform.database import Parallel
from app.platform.errors import NotFound, Unprocessable
from app.platform.replica import Reads
from app.stats import cache, repository
from app.stats.facts import COUNTERS, NOT_AVOIDED_REASONS
from app.stats.repository import ScopeRow
from app.stats.schemas import MonthlyReport, PeriodFigures
from app.territories import repository as territory_repository
from app.territories import service as territory_service
from app.territories.models import DEFAULT_COEFFICIENTS, DEFAULT_PRIORITY_DELAYS

# The whole country: every territory, each call's month read in its own département's time zone.
NATIONAL_CODE = "FR"
NATIONAL_NAME = "France"
MAX_MONTHS = 240
AVOIDED_ED_METHODS = ("declared_intent", "coefficients")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    first: dt.date
    after: dt.date
    months: list[str]


@dataclass(frozen=True)
class Subject:
    code: str
    name: str
    timezone: str
    scope: list[ScopeRow]
    avoided_ed_method: str
    coefficients: dict[str, float]
    area: list[str] | None = None  # the postcodes the territory serves (none for the nation)
    # Its months are those of the rollup's cells (each territory's département's time zone): its calls are read
    # there; a CPTS given a time zone of its own is read call by call.
    rolled_up: bool = True


def parse_month(value: str | None, field: str) -> dt.date:
    match = _MONTH.match(value or "")
    if not match:
        raise Unprocessable(f"{field} must be a month written YYYY-MM, got {value!r}", field=field)
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12 or not 1900 <= year <= 2999:
        raise Unprocessable(f"{field} is not a valid month: {value!r}", field=field)
    return dt.date(year, month, 1)


def next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def parse_period(first: str | None, last: str | None) -> Period:
    start, end = parse_month(first, "from"), parse_month(last, "to")
    if start > end:
        raise Unprocessable(f"to ({last}) is before from ({first})", field="to")
    count = (end.year - start.year) * 12 + end.month - start.month + 1
    if count > MAX_MONTHS:
        raise Unprocessable(f"the period spans {count} months; at most {MAX_MONTHS}", field="to")
    months, day = [], start
    for _ in range(count):
        months.append(day.strftime("%Y-%m"))
        day = next_month(day)
    return Period(first=start, after=day, months=months)


def _scope_row(code: str, timezone: str, delays: dict[str, Any] | None) -> ScopeRow:
    delays = {**json.loads(DEFAULT_PRIORITY_DELAYS), **(delays or {})}
    return ScopeRow(code, timezone, float(delays["P1"]), float(delays["P2"]), float(delays["P3"]))


async def subject_of(session: AsyncSession, principal: Principal, code: str) -> Subject:
    """The territory (or the nation) the report covers, if the principal may read it; else 404."""
    if code == NATIONAL_CODE:
        if not (principal.is_admin or NATIONAL_CODE in principal.territories):
            raise NotFound(f"Territory {code} not found")
        rows = await repository.all_territories(session)
        scope = [_scope_row(r["code"], r["timezone"], r["priority_delays"]) for r in rows]
        return Subject(NATIONAL_CODE, NATIONAL_NAME, "Europe/Paris", scope, "declared_intent",
                       json.loads(DEFAULT_COEFFICIENTS))
    territory = await territory_service.ensure_visible(session, principal, code)
    codes = await territory_service.scope_codes(session, code)
    scope = [_scope_row(c, territory.timezone, territory.priority_delays) for c in codes]
    area = await territory_repository.area_postcodes(session, territory)
    parent = None if territory.parent_code is None else await territory_repository.get(session, territory.parent_code)
    return Subject(territory.code, territory.name, territory.timezone, scope, territory.avoided_ed_method,
                   dict(territory.avoided_ed_coefficients), area or None,
                   rolled_up=parent is None or parent.timezone == territory.timezone)


def share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def coefficient_estimate(counts: dict[str, int], coefficients: dict[str, float]) -> int:
    """round(sum of coefficient[kind] × calls of that kind), half up, in exact decimal arithmetic."""
    total = sum((Decimal(str(coefficients.get(k, 0))) * counts[k] for k in DECISION_KINDS), Decimal(0))
    return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def avoided_ed(row: dict[str, Any], method: str, coefficients: dict[str, float]) -> dict[str, Any]:
    if method == "coefficients":
        counts = {k: row[k] for k in DECISION_KINDS}
        return {"count": coefficient_estimate(counts, coefficients), "method": method,
                "parameters": {"coefficients": {k: coefficients.get(k, 0) for k in DECISION_KINDS},
                               "formula": "round(sum(coefficient[kind] * calls with a decision of that kind))"}}
    return {"count": row["avoided_declared"], "method": method,
            "parameters": {"intent_without_sas": "urgences", "calls_with_that_intent": row["intent_urgences"],
                           "excluded_other_reasons": list(NOT_AVOIDED_REASONS)}}


_CALL_ZERO = {k: 0 for k in (*COUNTERS, "called_back", "within_60", "within_target")} | {
    "delay_median": None, "delay_p90": None}
_SLOT_ZERO = {"published": 0, "published_hours": 0.0, "booked": 0, "over_capacity": 0, "effectors_active": 0,
              "fulfilled": 0, "noshow": 0, "without_outcome": 0}


def notice_fields(row: dict[str, Any] | None) -> dict[str, Any]:
    """What the patients were told of the month's (or the period's) bookings, from its aggregate row."""
    r = row or {}

    def outcome(prefix: str) -> dict[str, Any]:
        bookings, noshow = int(r.get(prefix, 0)), int(r.get(f"{prefix}_noshow", 0))
        return {"bookings": bookings, "noshow": noshow, "noshow_rate": share(noshow, bookings)}

    return {"bookings_notified": int(r.get("notified", 0)),
            "bookings_notified_by_channel": {"sms": int(r.get("notified_sms", 0)),
                                             "email": int(r.get("notified_email", 0))},
            "reminders_sent": int(r.get("reminders_sent", 0)),
            "cancelled_through_link": int(r.get("cancelled_through_link", 0)),
            "with_reminder": outcome("reminded"), "without_reminder": outcome("unreminded")}


def mt_fields(events: dict[str, tuple[int, float | None]], end: dict[str, tuple[int, float | None]],
              offers: dict[str, int]) -> dict[str, Any]:
    """The MT figures of a month (or the period) from its events, and the waiting ones at its end (the period's
    are its last month's)."""
    def count(kind: str) -> int:
        return events.get(kind, (0, None))[0]

    def by(prefix: str, keys: tuple[str, ...]) -> dict[str, int]:
        return {k: count(f"{prefix}:{k}") for k in keys}

    sources = by("received", MT_SOURCES)
    closed = by("closed", MT_CLOSED_REASONS)
    found, days = events.get("found", (0, None))
    waiting, waited = end.get("waiting", (0, None))
    return {
        "mt_requests": sum(sources.values()), "mt_found": found, "mt_waiting": waiting,
        "mt_median_days_to_find": None if days is None else round(days, 1),
        "mt": {"requests_by_source": sources, "accepted": count("accepted"), "access_consultations": count("access"),
               "found_share": share(found, found + sum(closed.values())), "closed": sum(closed.values()),
               "closed_by_reason": closed, "median_waiting_days": None if waited is None else round(waited, 1),
               "refusals_by_reason": {REPORTED_AS.get(k, k): n for k, n in by("refused", MT_REFUSAL_REASONS).items()},
               "doctors_accepting_now": offers["doctors"], "places_per_month_now": offers["per_month"]},
    }


MT_SOURCES: tuple[str, ...] = get_args(Source)
MT_CLOSED_REASONS: tuple[str, ...] = get_args(ClosedReason)
MT_REFUSAL_REASONS: tuple[str, ...] = get_args(RefusalReason)
REPORTED_AS = {"patient_known": "already_known"}  # no column of the report names a patient


def _minutes(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


def figures(c: dict[str, Any], s: dict[str, Any], months: int, subject: Subject, method: str) -> dict[str, Any]:
    """One month's (or the period's) figures from its two aggregate rows."""
    calls = c["calls"]
    decisions = {k: {"count": c[k], "share": share(c[k], calls)} for k in DECISION_KINDS}
    decisions["other"]["by_reason"] = {r: c[f"other_{r}"] for r in OTHER_REASONS}
    return {
        "calls": calls,
        "calls_by_channel": {ch: c[f"channel_{ch}"] for ch in CHANNELS},
        "decisions": decisions,
        "calls_with_several_decisions": c["several"],
        "calls_without_decision": c["without_decision"],
        "monthly_average_calls": round(calls / months, 2),
        "avoided_ed_visits": avoided_ed(c, method, subject.coefficients),
        "slots": {"published": s["published"], "published_hours": round(float(s["published_hours"]), 2),
                  "booked": s["booked"], "fill_rate": share(s["booked"], s["published"]),
                  "over_capacity": s["over_capacity"], "effectors_active": s["effectors_active"]},
        "bookings": {"fulfilled": s["fulfilled"], "noshow": s["noshow"], "without_outcome": s["without_outcome"],
                     "honoured_rate": share(s["fulfilled"], s["fulfilled"] + s["noshow"])},
        "callback_delay": {"called_back": c["called_back"], "median_minutes": _minutes(c["delay_median"]),
                           "p90_minutes": _minutes(c["delay_p90"]),
                           "share_within_60_minutes": share(c["within_60"], c["called_back"]),
                           "share_within_priority_target": share(c["within_target"], c["called_back"])},
    }


def _checked(first: str | None, last: str | None, method: str | None) -> Period:
    period = parse_period(first, last)
    if method is not None and method not in AVOIDED_ED_METHODS:
        raise Unprocessable(f"avoided_ed_method must be one of {', '.join(AVOIDED_ED_METHODS)}",
                            field="avoided_ed_method")
    return period


async def monthly(
    session: AsyncSession, parallel: Parallel, principal: Principal, territory: str, first: str | None,
    last: str | None, method: str | None = None,
) -> MonthlyReport:
    """The report of a territory (or ``FR``) for the months ``first``..``last`` inclusive, computed now."""
    period = _checked(first, last, method)
    subject = await subject_of(session, principal, territory)
    return await compute(session, parallel, subject, period, method or subject.avoided_ed_method)


async def monthly_kept(
    reads: Reads, settings: Settings, principal: Principal, territory: str, first: str | None, last: str | None,
    method: str | None = None,
) -> MonthlyReport:
    """:func:`monthly`, given from this process's kept reports when its months have ended and nothing they
    count has been written since; computed in this process's turn otherwise (app/stats/cache.py)."""
    period = _checked(first, last, method)
    store = cache.kept(settings.stats_kept_reports)

    async def look(session: AsyncSession, _: Parallel) -> tuple[Subject, cache.Scope, Any, MonthlyReport | None]:
        subject = await subject_of(session, principal, territory)
        scope = _scope(subject, period)
        key = _key(subject, period, method or subject.avoided_ed_method)
        return subject, scope, key, await store.get(session, key, scope)

    # A report waits SNP_STATS_WAIT_SECONDS at most in all: for its pool's connection, its look, its turn.
    deadline = asyncio.get_running_loop().time() + settings.stats_wait_seconds
    async with cache.within(deadline):
        subject, scope, key, report = await reads.run(look)
    if report is not None:
        cache.KEPT.labels("kept").inc()
        return report
    chosen = method or subject.avoided_ed_method

    async with cache.Turn(settings.stats_concurrency, settings.stats_wait_seconds, deadline) as turn:

        async def computed(session: AsyncSession, parallel: Parallel) -> MonthlyReport:
            async with turn.bounded():  # a connection and a turn by the report's deadline
                report = await store.get(session, key, scope)  # computed by another while this one waited its turn
                if report is not None:
                    cache.KEPT.labels("kept").inc()
                    return report
                await cache.take_turn(session, settings.stats_concurrency)  # shared by every process: NotYourTurn
            turn.taken()
            cache.KEPT.labels("computed").inc()
            # The snapshot before the report's statements: what they count is at least what it saw.
            token = await cache.token_of(session, scope)
            report = await compute(session, parallel, subject, period, chosen)
            store.put(key, token, report)
            return report

        while True:
            try:
                return await reads.run(computed)
            except cache.NotYourTurn:
                turn.lost()
                await turn.later()  # the unit of work has ended: no connection is held while waiting


def _key(subject: Subject, period: Period, method: str) -> tuple[Any, ...]:
    # Today's date too: the MT figures "now" (the doctors taking new patients today) move at midnight by themselves.
    return (dt.datetime.now(dt.UTC).date(), subject.code, subject.timezone, tuple(subject.scope), method,
            tuple(sorted(subject.coefficients.items())), None if subject.area is None else tuple(subject.area),
            period.first, period.after)


def _scope(subject: Subject, period: Period) -> cache.Scope:
    return cache.Scope(codes=tuple(r.code for r in subject.scope), zones=tuple(r.timezone for r in subject.scope),
                       months=tuple(dt.date.fromisoformat(f"{m}-01") for m in period.months), after=period.after)


async def compute(
    session: AsyncSession, parallel: Parallel, subject: Subject, period: Period, method: str,
) -> MonthlyReport:
    """The report of ``subject`` for ``period``, read from PostgreSQL now."""
    # The calls are read from the rollup (exact, kept by PostgreSQL): a département's month there costs a tenth of
    # its calls read one by one.
    read_calls = repository.rollup_call_figures if subject.rolled_up else repository.call_figures
    # The scope and its months' bounds, read once for every figure.
    given = await repository.window(session, subject.scope, period.first, period.after)

    async def slots_and_more(s: AsyncSession) -> tuple[dict[str | None, Any], ...]:
        # Coverage needs an area: a département's postcodes, or those an admin gave a CPTS; never the nation's
        # (every postcode against every site).
        near = ({} if subject.area is None else
                await repository.coverage(s, subject.scope, period.first, period.after, subject.area, given))
        return (await repository.slot_figures(s, subject.scope, period.first, period.after, given),
                await repository.call_extras(s, subject.scope, period.first, period.after, given), near)

    # The two reads about even for a département (its calls from the rollup are a few ms: the notices go with them).
    async def calls_and_more(s: AsyncSession) -> tuple[Any, Any, Any]:
        return (await read_calls(s, subject.scope, period.first, period.after, given),
                await repository.mt_figures(s, subject.scope, period.first, period.after, given),
                await repository.notice_figures(s, subject.scope, period.first, period.after, given))

    (calls, (mt, offers), notices), (slots, extras, near) = await parallel.both(calls_and_more, slots_and_more)
    last_month = period.months[-1]

    def at(month: str | None, months: int) -> dict[str, Any]:
        more = extras.get(month, {})
        reach = near.get(month)
        return {**figures(calls.get(month, _CALL_ZERO), slots.get(month, _SLOT_ZERO), months, subject, method),
                "calls_by_referrer": {k.removeprefix("referrer:"): n for k, n in more.items()
                                      if k.startswith("referrer:")},
                "calls_reoriented": more.get("reoriented", 0),
                **mt_fields(mt.get(month, {}), mt.get(last_month if month is None else month, {}), offers),
                "notices": notice_fields(notices.get(month)),
                "coverage": None if reach is None else {
                    "postcodes": reach[0], "within_30_km": reach[1], "share": share(reach[1], reach[0])}}

    return MonthlyReport.model_validate({
        "territory": subject.code, "territory_name": subject.name, "timezone": subject.timezone,
        "scope": [r.code for r in subject.scope], "from": period.months[0], "to": period.months[-1],
        "months": [{"month": m, **at(m, 1)} for m in period.months],
        "total": PeriodFigures.model_validate(at(None, len(period.months))),
    })
