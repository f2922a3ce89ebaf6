"""What the live stream tells of slots: a slot held by a call, its hold released (or lapsed), booked, or
freed by a cancellation, so that a console showing it updates its list without a click.

Nothing is written for it, and the booking path pays nothing: on each tick of the hub (app/calls/live.py),
one reading for all its consoles
- of the holds: the slots of the listened territories that are free and held now (a hold is two columns of
  the slot, ``held_by_call_id`` and ``held_until``, found through the free slots' own index), compared with
  the previous reading: ``slot.held`` for a new hold, ``slot.released`` for one gone while the slot is still
  free (released, or lapsed);
- of the outbox's booking events after the last one read, in the order their transactions became final
  (by transaction up to the oldest one still running, then by sequence, as the outbox's in-order readers
  read it: an event that commits late is never skipped): ``slot.booked`` for ``booking.created``,
  ``slot.freed`` for ``booking.cancelled`` (the slot may be booked again, if still ahead).

The changes of one tick are told in one event per kind and territory (a busy tick of bookings is hundreds
of slots: one event each would cost the stream, on the cores that book, more than the bookings' own call
events): ``slot.held`` carries ``slots``, each slot's id and the call holding it (a console knows its own
call); the others carry ``slot_ids``. Never a patient's identity.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_HELD = text("""
    SELECT s.id, s.territory_code, s.held_by_call_id
    FROM slots s
    WHERE s.status = 'free' AND s.start_at > now() AND s.held_until > now()
      AND (CAST(:everywhere AS boolean) OR s.territory_code = ANY(CAST(:codes AS text[])))
""")
# The slots whose hold ended since the last reading: booked (the outbox tells it), or still free.
_STILL_FREE = text("SELECT s.id FROM slots s WHERE s.id = ANY(CAST(:ids AS uuid[])) AND s.status = 'free'")
_START = text("SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xid")
_BOOKING_EVENTS = text("""
    SELECT e.xid, e.seq, e.kind, e.payload->>'slot_id' AS slot_id, e.payload->>'territory_code' AS territory_code
    FROM outbox_events e
    WHERE (e.xid, e.seq) > (:xid, :seq) AND e.xid < pg_snapshot_xmin(pg_current_snapshot())
      AND e.kind IN ('booking.created', 'booking.cancelled')
    ORDER BY e.xid, e.seq
    LIMIT :limit""")
BATCH = 1000
# The holds are read every HOLDS_EVERY ticks (2 s at the hub's 0.5 s), and at once when the territories
# listened to change: a hold lasts minutes, and reading them scans the listened territories' free slots,
# on the cores that book; the outbox's booking events, read by their index, every tick.
HOLDS_EVERY = 4
KINDS = {"booking.created": "slot.booked", "booking.cancelled": "slot.freed"}


class SlotWatch:
    """The holds last read and where the outbox was last read: one per hub."""

    def __init__(self) -> None:
        self.held: dict[str, tuple[str, str | None]] = {}  # slot id -> (territory, holding call)
        self.cursor: tuple[Any, int] | None = None  # (xid, seq) of the last booking event read
        self.ticks = 0
        self.holds_of: frozenset[str] | None = None  # the territories whose holds were last read

    def forget(self) -> None:
        self.held, self.cursor, self.ticks, self.holds_of = {}, None, 0, None

    async def _holds(self, connection: AsyncConnection, wanted: frozenset[str] | None,
                     known: frozenset[str] | None, events: list[dict[str, Any]]) -> None:
        """The holds now, against the last reading: held, and released (or lapsed) while still free."""
        params = {"everywhere": wanted is None, "codes": sorted(wanted or ())}
        rows = (await connection.execute(_HELD, params)).all()
        now_held = {str(r.id): (r.territory_code, str(r.held_by_call_id) if r.held_by_call_id else None) for r in rows}
        for slot_id, (territory, call_id) in now_held.items():
            before = self.held.get(slot_id)
            if before != (territory, call_id) and (before is not None or known is None or territory in known):
                events.append({"event": "slot.held", "slot_id": slot_id, "territory_code": territory,
                               "call_id": call_id})
        gone = [slot_id for slot_id in self.held if slot_id not in now_held]
        if gone:
            free = {str(r.id) for r in await connection.execute(_STILL_FREE, {"ids": gone})}
            events += [{"event": "slot.released", "slot_id": slot_id, "territory_code": self.held[slot_id][0]}
                       for slot_id in gone if slot_id in free]
        self.held = now_held
        self.holds_of = wanted

    async def read(self, connection: AsyncConnection, wanted: frozenset[str] | None,
                   known: frozenset[str] | None) -> list[dict[str, Any]]:
        """What changed for the slots of ``wanted`` (None: every territory) since the last reading; holds in
        territories not read before (``known``) are new to the reading, not to the world: they say nothing."""
        events: list[dict[str, Any]] = []
        self.ticks += 1
        if self.ticks % HOLDS_EVERY == 1 or wanted != self.holds_of:
            await self._holds(connection, wanted, known, events)
        if self.cursor is None:
            self.cursor = ((await connection.execute(_START)).scalar_one(), 0)
            return batched(events)
        while True:
            batch = (await connection.execute(_BOOKING_EVENTS, {"xid": self.cursor[0], "seq": self.cursor[1],
                                                                "limit": BATCH})).all()
            for r in batch:
                if wanted is None or r.territory_code in wanted:
                    events.append({"event": KINDS[r.kind], "slot_id": r.slot_id, "territory_code": r.territory_code})
            if batch:
                self.cursor = (batch[-1].xid, batch[-1].seq)
            if len(batch) < BATCH:
                return batched(events)


def batched(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One event per kind and territory, in the order each kind first happened: ``slots`` for the holds
    (with the call holding each), ``slot_ids`` for the others."""
    grouped: dict[tuple[str, str], dict[str, Any]] = {}
    for event in events:
        key = (event["event"], event["territory_code"])
        if key not in grouped:
            grouped[key] = {"event": event["event"], "territory_code": event["territory_code"]}
        if event["event"] == "slot.held":
            grouped[key].setdefault("slots", []).append({"slot_id": event["slot_id"], "call_id": event["call_id"]})
        else:
            grouped[key].setdefault("slot_ids", []).append(event["slot_id"])
    return list(grouped.values())
