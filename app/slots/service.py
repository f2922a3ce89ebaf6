"""Publishing slots: the rules. No overlap is ever decided here: PostgreSQL's exclusion constraint is
the judge; the queries before an insert only exist to name every conflict in one answer."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.platform.config import Settings
from app.platform.errors import Conflict, Forbidden, NotFound, Unavailable, Unprocessable, reason_of, sqlstate_of
from app.platform.jobs import JobOverLimit, PoolBusy, jobs_of
from app.platform.logging import log
from app.slots import bookers, ics, repository
from app.slots.errors import CalendarTooLarge
from app.slots.repository import Batch, SiteInfo
from app.slots.schemas import BulkResult, IcsImportResult, Rejection, SlotBulkItem, SlotCreate

MIN_LENGTH = dt.timedelta(minutes=5)
MAX_LENGTH = dt.timedelta(hours=12)
ZERO = dt.timedelta(0)
EXCLUSION_VIOLATION = "23P01"
DEADLOCK = "40P01"
DEADLOCK_RETRIES = 2
_ITEMS = TypeAdapter(list[SlotBulkItem])


@dataclass(slots=True)
class Item:
    practitioner_id: uuid.UUID
    site_id: uuid.UUID
    start: dt.datetime
    end: dt.datetime
    mode: str
    audience: str = "all"
    key: str | None = None
    rule_id: uuid.UUID | None = None
    bookable_by: int = bookers.EVERYONE
    release_before: dt.timedelta | None = None
    kind: str = "snp"


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def horizon_end(settings: Settings, now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(days=settings.slot_horizon_days)


@dataclass(frozen=True, slots=True)
class TimeRules:
    """The time rules of a publish, computed once for all its slots."""

    earliest: dt.datetime  # now, less the clock-skew tolerance
    latest: dt.datetime  # the publishing horizon
    horizon_days: int

    @classmethod
    def at(cls, now: dt.datetime, settings: Settings) -> TimeRules:
        return cls(now - dt.timedelta(seconds=settings.clock_skew_seconds), horizon_end(settings, now),
                   settings.slot_horizon_days)

    def problem(self, start: dt.datetime, end: dt.datetime) -> tuple[str, str] | None:
        """(field, reason) of the first time rule the slot breaks, or None."""
        length = end - start
        if MIN_LENGTH <= length <= MAX_LENGTH and self.earliest <= start <= self.latest:
            return None
        if length <= ZERO:
            return "end", "must be after start"
        if length < MIN_LENGTH:
            return "end", "a slot lasts at least 5 minutes"
        if length > MAX_LENGTH:
            return "end", "a slot lasts at most 12 hours"
        if start < self.earliest:
            return "start", "is in the past"
        return "start", f"is more than {self.horizon_days} days ahead (the publishing horizon)"


def time_problem(start: dt.datetime, end: dt.datetime, now: dt.datetime, settings: Settings) -> tuple[str, str] | None:
    """(field, reason) of the first time rule the slot breaks, or None."""
    return TimeRules.at(now, settings).problem(start, end)


def practitioner_for(principal: Principal, requested: uuid.UUID | None, field: str = "practitioner_id") -> uuid.UUID:
    """Whose slots these are: an effector's own, or the practitioner an admin names."""
    if principal.role == "effector":
        assert principal.practitioner_id is not None
        if requested is not None and requested != principal.practitioner_id:
            raise Forbidden("An effector publishes only its own slots", field=field)
        return principal.practitioner_id
    if requested is None:
        raise Unprocessable("practitioner_id is required when an admin publishes", field=field)
    return requested


def serves(site: SiteInfo, territories: set[str]) -> bool:
    return site.territory_code in territories or (site.parent_code is not None and site.parent_code in territories)


async def site_for(session: AsyncSession, practitioner_id: uuid.UUID, site_id: uuid.UUID) -> SiteInfo:
    """The site, if the practitioner serves its territory (a CPTS under a served département counts)."""
    served = await repository.served(session, [practitioner_id])
    if practitioner_id not in served:
        raise Unprocessable(f"Unknown practitioner {practitioner_id}", field="practitioner_id")
    site = (await repository.sites(session, [site_id])).get(site_id)
    if site is None:
        raise Unprocessable(f"Unknown site {site_id}", field="site_id")
    if not serves(site, served[practitioner_id]):
        raise Unprocessable(
            f"The site is in territory {site.territory_code}, which the practitioner does not serve", field="site_id"
        )
    return site


def batch_of(items: list[Item], territories: list[str]) -> Batch:
    return Batch(
        ids=[uuid.uuid4() for _ in items], practitioners=[i.practitioner_id for i in items],
        sites=[i.site_id for i in items], territories=territories, starts=[i.start for i in items],
        ends=[i.end for i in items], modes=[i.mode for i in items], audiences=[i.audience for i in items],
        kinds=[i.kind for i in items],
        bookable=[i.bookable_by for i in items], releases=[i.release_before for i in items],
        keys=[i.key for i in items], rules=[i.rule_id for i in items],
    )


# --- one slot -------------------------------------------------------------------------------

async def create(session: AsyncSession, principal: Principal, data: SlotCreate, settings: Settings) -> dict[str, Any]:
    pid = practitioner_for(principal, data.practitioner_id)
    problem = time_problem(data.start, data.end, now_utc(), settings)
    if problem:
        raise Unprocessable(f"{problem[0]}: {problem[1]}", field=problem[0])
    site = await site_for(session, pid, data.site_id)
    item = Item(pid, data.site_id, data.start, data.end, data.mode, data.audience, kind=data.kind,
                bookable_by=bookers.mask(data.bookable_by), release_before=data.release_before)
    batch = batch_of([item], [site.territory_code])
    await insert_batch(session, [item], [0], batch, "api", 1, single=True)
    log.info("slot.published", slot_id=str(batch.ids[0]), practitioner_id=str(pid), source="api")
    return await get(session, principal, batch.ids[0])


def _raise_rejected(rejected: list[Rejection], total: int, *, single: bool = False) -> None:
    rejected.sort(key=lambda r: r.index)
    if single and rejected[0].conflicting_slot_id is not None:
        first = rejected[0]
        raise Conflict(f"The slot overlaps your slot {first.conflicting_slot_id}", field="start",
                       conflicting_slot_id=str(first.conflicting_slot_id))
    body = [r.model_dump(mode="json", exclude_none=True) for r in rejected]
    indexes = {r.index for r in rejected}
    detail = f"{len(indexes)} of {total} items rejected; nothing was published"
    only_overlaps = all(r.conflicting_slot_id or r.conflicting_index is not None for r in rejected)
    cls = Conflict if only_overlaps else Unprocessable
    raise cls(detail, field="slots", rejected=body)


# --- many slots: all or nothing -------------------------------------------------------------

async def bulk(
    session: AsyncSession, principal: Principal, raw: list[dict[str, Any]], settings: Settings
) -> BulkResult:
    items, rejected = parse_items(principal, raw, now_utc(), settings)
    ids = await publish(session, items, "bulk", rejected, total=len(raw))
    log.info("slots.bulk_published", created=sum(1 for i in ids if i), items=len(raw))
    return BulkResult(created=sum(1 for i in ids if i), skipped=sum(1 for i in ids if i is None), ids=ids)


def parse_items(
    principal: Principal, raw: list[dict[str, Any]], now: dt.datetime, settings: Settings
) -> tuple[list[Item | None], list[Rejection]]:
    """Shape and time rules of every item, in Python: all rejections at once, indexed like the request."""
    rejected: list[Rejection] = []
    try:
        models: list[SlotBulkItem | None] = list(_ITEMS.validate_python(raw))
    except ValidationError as exc:
        bad = _shape_rejections(exc, rejected)
        models = [None if i in bad else SlotBulkItem.model_validate(r) for i, r in enumerate(raw)]
    rules = TimeRules.at(now, settings)
    items: list[Item | None] = []
    for index, model in enumerate(models):
        item = None if model is None else _item(principal, model, index, rules, rejected)
        items.append(item)
    return items, rejected


def _shape_rejections(exc: ValidationError, rejected: list[Rejection]) -> set[int]:
    bad: set[int] = set()
    for error in exc.errors():
        loc = error.get("loc", ())
        index = int(loc[0]) if loc and isinstance(loc[0], int) else 0
        bad.add(index)
        field = ".".join(str(p) for p in loc[1:]) or None
        rejected.append(Rejection(index=index, field=field, reason=reason_of(error)))
    return bad


def _item(
    principal: Principal, model: SlotBulkItem, index: int, rules: TimeRules, rejected: list[Rejection]
) -> Item | None:
    try:
        pid = practitioner_for(principal, model.practitioner_id, field=f"slots.{index}.practitioner_id")
    except Unprocessable as exc:
        rejected.append(Rejection(index=index, field="practitioner_id", reason=exc.detail))
        return None
    problem = rules.problem(model.start, model.end)
    if problem:
        rejected.append(Rejection(index=index, field=problem[0], reason=problem[1]))
        return None
    return Item(pid, model.site_id, model.start, model.end, model.mode, model.audience, model.source_key,
                kind=model.kind, bookable_by=bookers.mask(model.bookable_by), release_before=model.release_before)


async def publish(
    session: AsyncSession, items: list[Item | None], source: str, rejected: list[Rejection], *, total: int,
) -> list[uuid.UUID | None]:
    """Write every item or none: rejected items (shape, site, overlap) make the whole batch fail.

    Overlaps are judged by the exclusion constraint when the batch is inserted; they are looked for
    beforehand only when the batch is already refused, so that one answer names every problem."""
    positions = [i for i, item in enumerate(items) if item is not None]
    checked = [item for item in items if item is not None]
    present = await _already_present(session, checked)
    territories = await _check_sites(session, checked, positions, rejected)
    todo = [n for n in range(len(checked)) if n not in present]
    todo_items = [checked[n] for n in todo]
    todo_positions = [positions[n] for n in todo]
    if rejected:
        await _name_overlaps(session, todo_items, todo_positions, rejected)
        _raise_rejected(rejected, total)
    batch = batch_of(todo_items, [territories[n] for n in todo])
    written = await insert_batch(session, todo_items, todo_positions, batch, source, total)
    out: list[uuid.UUID | None] = [None] * len(items)
    for position, new_id in zip(todo_positions, batch.ids, strict=True):
        out[position] = new_id if new_id in written else None
    return out


async def _name_overlaps(
    session: AsyncSession, items: list[Item], positions: list[int], rejected: list[Rejection]
) -> None:
    """Name the items overlapping each other or a live slot of their practitioner: the one place
    that says which overlaps the exclusion constraint refused (or would refuse)."""
    _overlaps_within(items, positions, rejected)
    if not items:
        return
    found = await repository.overlapping(
        session, [i.practitioner_id for i in items], [i.start for i in items], [i.end for i in items]
    )
    for n, slot_id, _ in found:
        rejected.append(Rejection(index=positions[n], field="start", reason=f"overlaps slot {slot_id}",
                                  conflicting_slot_id=slot_id))


async def _already_present(session: AsyncSession, items: list[Item]) -> set[int]:
    """Positions (in ``items``) whose source_key the practitioner already has: re-sent, so skipped."""
    keyed = [(n, i) for n, i in enumerate(items) if i.key is not None]
    if not keyed:
        return set()
    known = await repository.existing_keys(session, [i.practitioner_id for _, i in keyed], [i.key for _, i in keyed])
    return {n for n, i in keyed if (i.practitioner_id, i.key) in known}


async def _check_sites(
    session: AsyncSession, items: list[Item], positions: list[int], rejected: list[Rejection]
) -> list[str]:
    served = await repository.served(session, list({i.practitioner_id for i in items}))
    sites = await repository.sites(session, list({i.site_id for i in items}))
    territories: list[str] = []
    for n, item in enumerate(items):
        site = sites.get(item.site_id)
        territories.append(site.territory_code if site else "")
        if item.practitioner_id not in served:
            rejected.append(Rejection(index=positions[n], field="practitioner_id", reason="unknown practitioner"))
        elif site is None:
            rejected.append(Rejection(index=positions[n], field="site_id", reason="unknown site"))
        elif not serves(site, served[item.practitioner_id]):
            rejected.append(Rejection(
                index=positions[n], field="site_id",
                reason=f"the site is in territory {site.territory_code}, which the practitioner does not serve",
            ))
    return territories


def _overlaps_within(items: list[Item], positions: list[int], rejected: list[Rejection]) -> None:
    """Items of the batch overlapping each other: one sweep per practitioner in start order."""
    order = sorted(range(len(items)), key=lambda n: (items[n].practitioner_id, items[n].start))
    latest: tuple[uuid.UUID, dt.datetime, int] | None = None  # practitioner, furthest end so far, its item
    for n in order:
        item = items[n]
        if latest and latest[0] == item.practitioner_id and item.start < latest[1]:
            rejected.append(Rejection(index=positions[n], field="start",
                                      reason=f"overlaps item {positions[latest[2]]} of this batch",
                                      conflicting_index=positions[latest[2]]))
        if latest is None or latest[0] != item.practitioner_id or item.end > latest[1]:
            latest = (item.practitioner_id, item.end, n)


async def insert_batch(
    session: AsyncSession, items: list[Item], positions: list[int], batch: Batch, source: str, total: int, *,
    single: bool = False,
) -> set[uuid.UUID]:
    """The one insert path of slots: the ids written. A key imported meanwhile by a concurrent request
    is skipped; an overlap refused by the exclusion constraint is a 409 naming the slots it overlaps.

    Two transactions inserting overlapping slots at the same instant each wait for the other's
    constraint check: PostgreSQL breaks the deadlock by failing one. Its insert is then tried again,
    now behind the committed winner, so the loser gets the ordinary overlap answer naming it."""
    skip_known_keys = any(k is not None for k in batch.keys)
    for attempt in range(DEADLOCK_RETRIES + 1):
        try:
            async with session.begin_nested():
                return set(await repository.insert(session, batch, source, skip_known_keys=skip_known_keys))
        except DBAPIError as exc:
            if sqlstate_of(exc) == DEADLOCK and attempt < DEADLOCK_RETRIES:
                continue
            if sqlstate_of(exc) != EXCLUSION_VIOLATION:
                raise
            rejected: list[Rejection] = []
            await _name_overlaps(session, items, positions, rejected)
            _raise_rejected(rejected or [Rejection(index=0, reason="overlaps a slot published meanwhile")], total,
                            single=single)
    raise AssertionError("unreachable")  # pragma: no cover - the last attempt returns or raises


# --- reading and withdrawing ----------------------------------------------------------------

def _owned(principal: Principal, row: dict[str, Any] | None, slot_id: uuid.UUID) -> dict[str, Any]:
    if row is None or (principal.role == "effector" and row["practitioner_id"] != principal.practitioner_id):
        raise NotFound(f"Slot {slot_id} not found")
    return row


async def get(session: AsyncSession, principal: Principal, slot_id: uuid.UUID) -> dict[str, Any]:
    return _owned(principal, await repository.get(session, slot_id), slot_id)


async def withdraw(session: AsyncSession, principal: Principal, slot_id: uuid.UUID) -> dict[str, Any]:
    """Withdraw a free slot (kept for history); booked or currently held → 409; twice → the same answer."""
    row = await get(session, principal, slot_id)
    if row["status"] == "withdrawn":
        return row
    done = await repository.withdraw(session, slot_id)
    if done is not None:
        log.info("slot.withdrawn", slot_id=str(slot_id))
        return done
    row = await get(session, principal, slot_id)
    if row["status"] == "booked":
        raise Conflict("The slot is booked: cancel the booking first", field="slot_id")
    if row["status"] == "withdrawn":
        return row
    raise Conflict(f"The slot is held for a call until {row['held_until'].isoformat()}", field="slot_id")


async def list_mine(
    session: AsyncSession, principal: Principal, practitioner_id: uuid.UUID | None, *,
    start_from: dt.datetime | None, start_to: dt.datetime | None, state: str | None, limit: int, offset: int,
) -> list[dict[str, Any]]:
    pid = practitioner_for(principal, practitioner_id)
    return await repository.list_for(
        session, pid, start_from=start_from, start_to=start_to, state=state, limit=limit, offset=offset
    )


# --- calendar import ------------------------------------------------------------------------

MAX_ICS_SLOTS = 5000


async def import_ics(
    session: AsyncSession, principal: Principal, body: bytes, *, practitioner_id: uuid.UUID | None,
    site_id: uuid.UUID, mode: str, audience: str, slot_minutes: int | None, settings: Settings,
) -> IcsImportResult:
    """Every occurrence of the calendar's SNP events up to the horizon, all or nothing, idempotent."""
    pid = practitioner_for(principal, practitioner_id)
    site = await site_for(session, pid, site_id)
    # What was read is plain values: the connection goes back to the pool while a worker reads the
    # calendar (seconds, or a wait for a free worker), and is taken again to publish.
    await session.rollback()
    now = now_utc()
    try:
        found, events = await jobs_of(settings).run(
            ics.expand, body, site.timezone, now, horizon_end(settings, now), slot_minutes, MAX_ICS_SLOTS,
            owner=principal.sub)
    except ics.CalendarTooLarge as exc:
        raise CalendarTooLarge(str(exc), field="body") from exc
    except ics.CalendarError as exc:
        raise Unprocessable(str(exc), field="body") from exc
    except JobOverLimit as exc:
        raise CalendarTooLarge(
            f"Reading this calendar passed its {exc.limit} limit ({exc.amount}): send fewer "
            "events, or a smaller calendar", field="body") from exc
    except PoolBusy as exc:
        raise Unavailable("Every calendar reader is busy: retry in a few seconds") from exc
    rejected: list[Rejection] = []
    items: list[Item | None] = []
    for index, occurrence in enumerate(found):
        items.append(_ics_item(pid, site_id, mode, audience, index, occurrence, now, settings, rejected))
    try:
        ids = await publish(session, items, "ics", rejected, total=len(found))
    except (Conflict, Unprocessable) as exc:
        for entry in exc.extra.get("rejected", []):
            occurrence = found[entry["index"]]
            entry.setdefault("uid", occurrence.uid)
            if occurrence.start is not None:
                entry.setdefault("start", occurrence.start.isoformat())
        raise
    created = [i for i in ids if i is not None]
    log.info("slots.ics_imported", practitioner_id=str(pid), created=len(created), occurrences=len(found))
    return IcsImportResult(created=len(created), skipped=len(ids) - len(created), events=events, ids=created)


def _ics_item(
    pid: uuid.UUID, site_id: uuid.UUID, mode: str, audience: str, index: int, occurrence: ics.Occurrence,
    now: dt.datetime, settings: Settings, rejected: list[Rejection],
) -> Item | None:
    problem: tuple[str | None, str] | None = (None, occurrence.problem) if occurrence.problem else None
    if occurrence.start is not None and occurrence.end is not None and problem is None:
        problem = time_problem(occurrence.start, occurrence.end, now, settings)
    if problem:
        rejected.append(Rejection(index=index, field=problem[0], reason=problem[1], uid=occurrence.uid,
                                  start=occurrence.start))
        return None
    assert occurrence.start is not None and occurrence.end is not None
    return Item(pid, site_id, occurrence.start, occurrence.end, mode, audience, occurrence.key)
