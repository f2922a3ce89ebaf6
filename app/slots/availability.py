"""Recurring availability rules: creation, edition, end, and the rolling horizon of their slots."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.platform.config import Settings
from app.platform.errors import Conflict, NotFound, Unprocessable
from app.platform.logging import log
from app.slots import bookers, repository, rules
from app.slots import service as slots
from app.slots.models import AvailabilityRule
from app.slots.schemas import ExtendResult, Rejection, RuleCreate, RuleRead, RuleUpdate, RuleWritten, check_times


def pattern_of(rule: AvailabilityRule, timezone: str) -> rules.Pattern:
    return rules.Pattern(
        weekdays=frozenset(rule.weekdays), start_time=rule.start_time, end_time=rule.end_time,
        slot_minutes=rule.slot_minutes, valid_from=rule.valid_from, valid_until=rule.valid_until, timezone=timezone,
    )


def items_of(rule: AvailabilityRule, timezone: str, now: dt.datetime, settings: Settings) -> list[slots.Item]:
    """The rule's slots from now to the horizon; identity ``rule:<id>:<revision>|<start UTC>``."""
    found = rules.occurrences(pattern_of(rule, timezone), now, slots.horizon_end(settings, now))
    return [
        slots.Item(rule.practitioner_id, rule.site_id, start, end, rule.mode, rule.audience,
                   f"rule:{rule.id}:{rule.revision}|{start.strftime('%Y-%m-%dT%H:%M:%SZ')}", rule.id,
                   bookable_by=rule.bookable_by, release_before=rule.release_before)
        for start, end in found
    ]


def read(rule: AvailabilityRule, timezone: str, created: int | None = None, withdrawn: int | None = None) -> Any:
    base = RuleRead.model_validate({**_columns(rule), "timezone": timezone})
    if created is None:
        return base
    return RuleWritten(**base.model_dump(), slots_created=created, slots_withdrawn=withdrawn or 0)


def _columns(rule: AvailabilityRule) -> dict[str, Any]:
    return {c.key: getattr(rule, c.key) for c in AvailabilityRule.__table__.columns}


async def create(session: AsyncSession, principal: Principal, data: RuleCreate, settings: Settings) -> RuleWritten:
    pid = slots.practitioner_for(principal, data.practitioner_id)
    site = await slots.site_for(session, pid, data.site_id)
    rule = AvailabilityRule(
        practitioner_id=pid, site_id=data.site_id, mode=data.mode, audience=data.audience,
        bookable_by=bookers.mask(data.bookable_by), release_before=data.release_before, weekdays=data.weekdays,
        start_time=data.start_time, end_time=data.end_time, slot_minutes=data.slot_minutes,
        valid_from=data.valid_from, valid_until=data.valid_until,
    )
    session.add(rule)
    await session.flush()
    await session.refresh(rule)
    created = await _generate(session, rule, site.territory_code, site.timezone, settings)
    log.info("availability_rule.created", rule_id=str(rule.id), slots=created)
    return read(rule, site.timezone, created, 0)


async def _generate(
    session: AsyncSession, rule: AvailabilityRule, territory: str, timezone: str, settings: Settings
) -> int:
    """Write the rule's slots up to the horizon; an overlap with another slot of the doctor is a 409.

    Slots the rule keeps from a previous revision (booked or held) are left alone and their
    occurrence is not generated again.
    """
    items = items_of(rule, timezone, slots.now_utc(), settings)
    found = await repository.overlapping(
        session, [i.practitioner_id for i in items], [i.start for i in items], [i.end for i in items]
    )
    kept = {n for n, _, rule_id in found if rule_id == rule.id}
    conflicts = [
        Rejection(index=n, field="start", reason=f"the occurrence at {items[n].start.isoformat()} overlaps slot "
                  f"{slot_id}", conflicting_slot_id=slot_id)
        for n, slot_id, rule_id in found if rule_id != rule.id
    ]
    if conflicts:
        raise Conflict(
            f"{len({c.index for c in conflicts})} occurrences of the rule overlap other slots of the practitioner; "
            "nothing was written", field="start", rejected=[c.model_dump(mode="json", exclude_none=True)
                                                             for c in conflicts[:200]],
        )
    todo = [item for n, item in enumerate(items) if n not in kept]
    batch = slots.batch_of(todo, [territory] * len(todo))
    written = await slots.insert_batch(session, todo, list(range(len(todo))), batch, "rule", len(todo))
    return len(written)


async def _own_rule(session: AsyncSession, principal: Principal, rule_id: uuid.UUID) -> AvailabilityRule:
    rule = await repository.rule(session, rule_id)
    if rule is None or (principal.role == "effector" and rule.practitioner_id != principal.practitioner_id):
        raise NotFound(f"Availability rule {rule_id} not found")
    return rule


async def update(
    session: AsyncSession, principal: Principal, rule_id: uuid.UUID, data: RuleUpdate, settings: Settings
) -> RuleWritten:
    """Apply the change, withdraw the rule's future free slots and generate them again (new revision)."""
    rule = await _own_rule(session, principal, rule_id)
    if not rule.active:
        raise Conflict("The rule has ended; create a new one", field="rule_id")
    for name, value in data.model_dump(exclude_unset=True).items():
        if value is None and name not in ("valid_until", "release_before"):
            raise Unprocessable(f"{name} cannot be null", field=name)
        setattr(rule, name, bookers.mask(value) if name == "bookable_by" else value)
    try:
        check_times(rule.start_time, rule.end_time, rule.slot_minutes)
    except ValueError as exc:
        field, _, reason = str(exc).partition(": ")
        raise Unprocessable(str(exc), field=field) from exc
    if rule.valid_until is not None and rule.valid_until < rule.valid_from:
        raise Unprocessable("valid_until: must not be before valid_from", field="valid_until")
    site = await slots.site_for(session, rule.practitioner_id, rule.site_id)
    rule.revision += 1
    await session.flush()
    withdrawn = await repository.withdraw_rule_future(session, rule.id, slots.now_utc())
    created = await _generate(session, rule, site.territory_code, site.timezone, settings)
    log.info("availability_rule.updated", rule_id=str(rule.id), withdrawn=withdrawn, created=created)
    return read(rule, site.timezone, created, withdrawn)


async def end(session: AsyncSession, principal: Principal, rule_id: uuid.UUID) -> RuleWritten:
    """End the rule: its future free slots are withdrawn, booked and held ones stay."""
    rule = await _own_rule(session, principal, rule_id)
    timezone = (await repository.timezones_of_sites(session, [rule.site_id]))[rule.site_id]
    withdrawn = 0
    if rule.active:
        rule.active = False
        rule.ended_at = slots.now_utc()
        await session.flush()
        withdrawn = await repository.withdraw_rule_future(session, rule.id, slots.now_utc())
        log.info("availability_rule.ended", rule_id=str(rule.id), withdrawn=withdrawn)
    return read(rule, timezone, 0, withdrawn)


async def list_(session: AsyncSession, principal: Principal, practitioner_id: uuid.UUID | None,
                active_only: bool) -> list[RuleRead]:
    pid = slots.practitioner_for(principal, practitioner_id)
    found = await repository.rules_of(session, pid, active_only)
    zones = await repository.timezones_of_sites(session, list({r.site_id for r in found}))
    return [read(r, zones[r.site_id]) for r in found]


async def get(session: AsyncSession, principal: Principal, rule_id: uuid.UUID) -> RuleRead:
    rule = await _own_rule(session, principal, rule_id)
    zone = (await repository.timezones_of_sites(session, [rule.site_id]))[rule.site_id]
    return read(rule, zone)


async def extend(session: AsyncSession, principal: Principal, settings: Settings) -> ExtendResult:
    """Roll every active rule (an effector's own, or all for an admin) forward to today's horizon.

    Occurrences already generated, withdrawn one by one, or overlapping another live slot are
    skipped (``ON CONFLICT DO NOTHING``), so running it again or concurrently is harmless.
    """
    pid = principal.practitioner_id if principal.role == "effector" else None
    found = await repository.rules_of(session, pid, active_only=True)
    sites = await repository.sites(session, list({r.site_id for r in found}))
    now = slots.now_utc()
    items: list[slots.Item] = []
    territories: list[str] = []
    for rule in found:
        site = sites[rule.site_id]
        generated = items_of(rule, site.timezone, now, settings)
        items.extend(generated)
        territories.extend([site.territory_code] * len(generated))
    written = await repository.insert(session, slots.batch_of(items, territories), "rule", skip_any_conflict=True)
    log.info("availability_rules.extended", rules=len(found), created=len(written))
    return ExtendResult(rules=len(found), slots_created=len(written),
                        horizon=slots.horizon_end(settings, now).date())
