"""Every query of the bookings domain: the hold, the one booking statement and its refusal, reads,
cancellation and outcome.

The booking statement is literal SQL (a hot path: one round trip per booking); it embeds the named
predicates and writes of the domains it touches: the territory scope (territories), the claimable
slot (slots), the ED call, the slot decision and the call in progress (calls), the effector's event
(notifications).
"""

from __future__ import annotations

import textwrap
import uuid
from typing import Any, cast

from sqlalchemy import Alias, RowMapping, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.bookings.models import Booking
from app.calls.repository import (
    CALL_IN_PROGRESS,
    NEW_DIRECT_CALL,
    OPEN_CALL,
    REORIENT_CALL,
    REVOKE_SLOT_DECISION,
    SLOT_DECISION,
)
from app.outbox.events import insert_booking_events
from app.slots.models import Slot
from app.slots.repository import BOOKABLE, CLAIMABLE, OVER_CAPACITY_SERVES, OVER_CAPACITY_TARGET, OWN_SITE, STATE_SQL
from app.territories.repository import SCOPE, scope_params

# ------------------------------------------------------------------------------------------------ hold
#
# The cold paths are SQLAlchemy Core; they embed the slots domain's predicates as text on the slots
# table aliased ``s``, as the literal hot statements do.

_slots = cast(Alias, Slot.__table__.alias("s"))  # an Alias, which the stubs type as a plain FromClause


# A hold in one statement, run on its own (one round trip, committed before the answer): the compare-and-set of
# ``:slot_id`` for ``:call_id`` — the slot visible (``scope``), claimable by this call and booker (held by it
# already: the hold is renewed), the call visible and open. When it holds nothing, ``REFUSAL`` says why.
HOLD = f"""
    WITH scope AS (
        {SCOPE}
    ), open_call AS (
        SELECT c.id FROM calls c
        WHERE c.id = :call_id AND c.status <> 'closed' AND c.territory_code IN (SELECT code FROM scope)
    )
    UPDATE slots s SET held_by_call_id = :call_id, held_until = now() + make_interval(mins => :minutes)
    WHERE s.id = :slot_id AND {CLAIMABLE}
      AND s.territory_code IN (SELECT code FROM scope) AND EXISTS (SELECT 1 FROM open_call)
    RETURNING s.id AS slot_id, s.held_by_call_id AS call_id, s.held_until
"""


def hold_params(*, slot_id: uuid.UUID, call_id: uuid.UUID, minutes: int, territories: list[str] | None,
                booker: dict[str, Any]) -> dict[str, Any]:
    """The parameters of ``HOLD``, and of ``REFUSAL`` when it held nothing (``territories`` None: every one)."""
    return {"slot_id": slot_id, "call_id": call_id, "minutes": minutes, "sub": "", "key": None, **booker,
            **scope_params(territories)}


async def release(session: AsyncSession, slot_id: uuid.UUID, call_id: uuid.UUID) -> bool:
    stmt = (
        update(Slot)
        .where(Slot.id == slot_id, Slot.held_by_call_id == call_id, Slot.held_until > func.now())
        .values(held_by_call_id=None, held_until=None)
        .returning(Slot.id)
    )
    return (await session.execute(stmt)).first() is not None


_SLOT_STATE = f"""SELECT s.id, s.territory_code, {STATE_SQL} AS state, coalesce({BOOKABLE}, false) AS bookable
    FROM slots s WHERE s.id = :slot_id"""


async def slot_state(session: AsyncSession, slot_id: uuid.UUID, booker: dict[str, Any]) -> RowMapping | None:
    """The slot's territory, state, and whether this booker may book it."""
    return (await session.execute(text(_SLOT_STATE), {"slot_id": slot_id, **booker})).mappings().first()


# --------------------------------------------------------------------------------------------- booking


def _instant(column: str) -> str:
    """A timestamptz written as the API writes instants (pydantic's form): UTC, ``Z``, microseconds if any."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (f"(to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN "
            f"CAST(date_part('microseconds', {utc}) AS bigint) % 1000000 = 0 THEN '' ELSE to_char({utc}, '.US') END"
            " || 'Z')")


# The answer to POST /v1/bookings (BookingRead), field for field, built where the booking is written.
_ANSWER = f"""json_build_object(
            'id', b.id, 'kind', CASE WHEN s.over_capacity THEN 'over_capacity' ELSE 'slot' END, 'slot_id', b.slot_id,
            'call_id', b.call_id, 'status', b.status, 'created_by', b.created_by,
            'created_at', {_instant("b.created_at")}, 'cancelled_at', NULL, 'cancel_reason', NULL, 'outcome', NULL,
            'outcome_note', NULL, 'outcome_at', NULL, 'report', NULL,
            'slot', json_build_object(
                'id', s.id, 'start', {_instant("s.start_at")}, 'end', {_instant("s.end_at")}, 'mode', s.mode,
                'territory_code', s.territory_code, 'practitioner_id', s.practitioner_id, 'site_id', s.site_id))"""

_NEW_BOOKING_EVENT = (":kind", """FROM b JOIN claimed s ON s.id = b.slot_id JOIN sites si ON si.id = s.site_id
            JOIN the_call c ON c.id = b.call_id""")
_REPLACED_BOOKING_EVENT = ("'booking.cancelled'", """FROM cancelled b JOIN slots s ON s.id = b.slot_id
            JOIN sites si ON si.id = s.site_id JOIN calls c ON c.id = b.call_id""")

def _book(claim: str, the_call: str, *, replacing: bool = False) -> str:
    """The whole booking in one statement: the slot ``claim`` gives, for the call ``the_call`` gives, replacing
    the call's booking ``:replaces`` or not (``BOOK``)."""
    events = insert_booking_events(*((_REPLACED_BOOKING_EVENT,) if replacing else ()), _NEW_BOOKING_EVENT)
    return f"""
    WITH scope AS (
        {SCOPE}
    ), open_call AS (
        {OPEN_CALL}
    ), claimed AS (
        {claim}
        RETURNING id, territory_code, practitioner_id, site_id, start_at, end_at, mode, over_capacity
    ), the_call AS (
        {the_call}
    ), b AS (
        INSERT INTO bookings (slot_id, call_id, created_by, also)
        SELECT claimed.id, the_call.id, :sub, CAST(:also AS boolean) FROM claimed CROSS JOIN the_call
        RETURNING id, slot_id, call_id, status, created_by, created_at, cancelled_at{_REPLACING if replacing else ""}
    ), decision AS (
        {SLOT_DECISION}
    ), in_progress AS (
        {CALL_IN_PROGRESS}
    ), event AS (
        -- the effector's events, in the order things happened: a replaced booking's cancellation first
        {events}
    ), answer AS (
        SELECT b.id, {_ANSWER} AS body FROM b JOIN claimed s ON s.id = b.slot_id
    ), k AS (
        INSERT INTO idempotency_keys (principal_sub, key, request_hash, status_code, response)
        SELECT :sub, CAST(:key AS text), :hash, 201, CAST(body AS jsonb) FROM answer
        WHERE CAST(:key AS text) IS NOT NULL
    )
    SELECT id, CAST(body AS text) AS body FROM answer
"""


# What a cancelled booking (``cancelled``: id, slot_id) does to its slot: a published slot is offered
# again if it has not started; an over-capacity appointment is gone.
RELEASE_SLOT = """UPDATE slots s SET status = CASE WHEN s.over_capacity THEN 'withdrawn' ELSE 'free' END,
                           withdrawn_at = CASE WHEN s.over_capacity THEN now() END
        FROM cancelled
        WHERE s.id = cancelled.slot_id AND s.status = 'booked' AND (s.over_capacity OR s.start_at > now())
        RETURNING s.id"""


# What replacing a booking adds to the statement: the call's booking named by ``:replaces`` cancelled,
# its slot released, its slot decision revoked (its effector's event comes first, below).
_REPLACING = f"""
    ), cancelled AS (
        UPDATE bookings r SET status = 'cancelled', cancelled_at = now(), cancelled_by = :sub,
                              cancel_reason = :cancel_reason
        FROM b WHERE r.id = CAST(:replaces AS uuid) AND r.call_id = b.call_id AND r.status = 'active'
          AND r.outcome IS NULL
        RETURNING r.id, r.slot_id, r.call_id, r.status, r.created_at, r.cancelled_at
    ), released AS (
        {RELEASE_SLOT}
    ), revoked AS (
        {REVOKE_SLOT_DECISION}"""


def _claim(call_condition: str) -> str:
    """The compare-and-set claim of the published slot ``:slot_id``: visible, claimable, and the condition
    on the call."""
    return f"""UPDATE slots s SET status = 'booked', held_by_call_id = NULL, held_until = NULL
        WHERE s.id = :slot_id AND {CLAIMABLE}
          AND s.territory_code IN (SELECT code FROM scope) AND {call_condition}"""


# An over-capacity appointment: a new slot, written booked, for a doctor who accepts them, at a visible
# site of a territory he serves, not over yet; the doctor's exclusion constraint refuses it when he
# has a slot or another appointment then.
_OVER_CAPACITY = f"""INSERT INTO slots (practitioner_id, site_id, territory_code, start_at, end_at, mode, status,
                           over_capacity)
        SELECT p.id, si.id, si.territory_code, CAST(:start_at AS timestamptz), CAST(:end_at AS timestamptz),
               CAST(:mode AS text), 'booked', true
        FROM practitioners p
        JOIN sites si ON si.id = :site_id
        JOIN territories t ON t.code = si.territory_code
        WHERE p.id = :practitioner_id AND {OVER_CAPACITY_TARGET}
          AND EXISTS (SELECT 1 FROM open_call) AND CAST(:end_at AS timestamptz) > now()"""


# The whole booking: the slot claimed (over capacity: written), the call (the open, visible call named
# by ``:call_id``; for an ED redirection or a referral, a new call made in the slot's territory), the
# call's slot decision, the call in progress, the effector's event, the answer, and (given ``:key``)
# that answer kept for replays. One statement run on its own (autocommit): one round trip, committed
# before the answer is sent. The key row is written only with a booking: a key already used fails the
# statement on its primary key and writes nothing; a twin request still running makes it wait, then
# fail likewise. The forms differ only in where the slot and the call come from, and whether a booking
# is replaced, so that each is planned once and a booking never runs the (empty) writes of another
# form, nor the statement-level statistics triggers they would fire.
BOOK = {
    "call": _book(_claim("EXISTS (SELECT 1 FROM open_call)"), "SELECT * FROM open_call"),
    "new_call": _book(_claim("true"), NEW_DIRECT_CALL),
    "over_capacity": _book(_OVER_CAPACITY, "SELECT * FROM open_call"),
    # the same, cancelling the call's booking ``:replaces`` in the statement (a change of slot)
    "call_replacing": _book(_claim("EXISTS (SELECT 1 FROM open_call)"), "SELECT * FROM open_call", replacing=True),
    "over_capacity_replacing": _book(_OVER_CAPACITY, "SELECT * FROM open_call", replacing=True),
}
# Each statement above, written whole in bookings/sql/<name>.sql (``snp bookings render-sql``; a test fails
# when a file drifts from what the code runs): a reader opens one file and can run it in psql.
def rendered() -> dict[str, str]:
    """The booking path's statements as the app runs them, by file name."""
    statements = {f"book_{form}": text_ for form, text_ in BOOK.items()}
    statements.update(refusal=REFUSAL, over_capacity_refusal=OVER_CAPACITY_REFUSAL, cancel=CANCEL, move=MOVE, hold=HOLD)
    return {name: _as_file(name, statement) for name, statement in statements.items()}


def _as_file(name: str, statement: str) -> str:
    lines = textwrap.dedent(statement.strip("\n")).rstrip().splitlines()
    header = [f"-- {name}: rendered from app/bookings/repository.py by `snp bookings render-sql`; do not edit.",
              "-- Parameters are :names (psql: \\set name value)."]
    return "\n".join(header + [line.rstrip() for line in lines]) + ";\n"


IDEMPOTENCY_KEY_CONSTRAINT = "pk_idempotency_keys"
ACTIVE_BOOKING_CONSTRAINT = "uq_bookings_active_slot"
PRACTITIONER_OVERLAP_CONSTRAINT = "ex_slots_practitioner_overlap"
ONE_ACTIVE_PER_CALL_CONSTRAINT = "ex_bookings_one_active_per_call"

# Why the booking statement booked nothing, in one read: the key's first answer (a replay), the call,
# the slot, whether the slot can be claimed for this call now, and its state if not.
REFUSAL = f"""
    WITH scope AS (
        {SCOPE}
    )
    SELECT k.request_hash, k.response,
           CAST(:call_id AS uuid) IS NULL
               OR (c.id IS NOT NULL AND c.territory_code IN (SELECT code FROM scope)) AS call_visible,
           c.status AS call_status,
           s.id IS NOT NULL AND s.territory_code IN (SELECT code FROM scope) AS slot_visible,
           coalesce({BOOKABLE}, false) AS bookable, coalesce({CLAIMABLE}, false) AS claimable,
           {STATE_SQL} AS state
    FROM (SELECT 1) AS one
    LEFT JOIN idempotency_keys k ON k.principal_sub = :sub AND k.key = CAST(:key AS text)
    LEFT JOIN calls c ON c.id = :call_id
    LEFT JOIN slots s ON s.id = :slot_id
"""

# Why an over-capacity booking wrote nothing: the key's first answer, the call, the doctor (known, and
# consenting), the site (visible, in a territory the doctor serves, one of his own).
OVER_CAPACITY_REFUSAL = f"""
    WITH scope AS (
        {SCOPE}
    )
    SELECT k.request_hash, k.response,
           c.id IS NOT NULL AND c.territory_code IN (SELECT code FROM scope) AS call_visible,
           c.status AS call_status, p.id IS NOT NULL AS practitioner_known, p.accepts_over_capacity,
           si.id IS NOT NULL AND si.territory_code IN (SELECT code FROM scope) AS site_visible,
           coalesce({OVER_CAPACITY_SERVES}, false) AS serves, coalesce({OWN_SITE}, false) AS own_site
    FROM (SELECT 1) AS one
    LEFT JOIN idempotency_keys k ON k.principal_sub = :sub AND k.key = CAST(:key AS text)
    LEFT JOIN calls c ON c.id = :call_id
    LEFT JOIN practitioners p ON p.id = :practitioner_id
    LEFT JOIN sites si ON si.id = :site_id
    LEFT JOIN territories t ON t.code = si.territory_code
"""


def booking_params(
    *, slot_id: uuid.UUID | None, call_id: uuid.UUID | None, sub: str, territories: list[str] | None,
    key: str | None, digest: str, patient: dict[str, Any], reason: str | None, booker: dict[str, Any],
    appointment: dict[str, Any] | None = None, origin: dict[str, Any] | None = None, also: bool = False,
    replaces: uuid.UUID | None = None, name_hashes: list[str] | None = None, phone_hashes: list[str] | None = None,
) -> dict[str, Any]:
    """The parameters of ``BOOK`` and its refusals (``territories`` None: every territory; ``booker``: who
    books, ``bookers.params``; ``patient`` and ``reason`` of a new call already sealed, with their hashes;
    ``appointment``:
    practitioner_id, site_id, start_at, end_at, mode of an over-capacity appointment)."""
    fields = {k: patient.get(k)
              for k in ("family_name", "given_name", "birth_year", "sex", "phone", "postcode", "address", "email")}
    wanted = {k: (appointment or {}).get(k) for k in ("practitioner_id", "site_id", "start_at", "end_at", "mode")}
    return {"slot_id": slot_id, "call_id": call_id, "sub": sub, "key": key, "hash": digest, "reason": reason,
            "kind": "booking.created", **fields, **wanted, **booker, **scope_params(territories),
            "channel": None, "intent": None, "referrer_kind": None, "notify": "none", "notify_consent": None,
            **(origin or {}),
            "also": also, "replaces": replaces, "cancel_reason": "remplacé par un nouveau rendez-vous",
            "name_hashes": name_hashes, "phone_hashes": phone_hashes}


# ------------------------------------------------------------------------------- read, cancel, outcome


def _with_slot() -> Any:
    return (
        select(Booking.id, Booking.slot_id, Booking.call_id, Booking.status, Booking.created_by, Booking.created_at,
               Booking.cancelled_at, Booking.cancel_reason, Booking.outcome, Booking.outcome_note,
               Booking.outcome_at, Slot.over_capacity, Slot.start_at,
               Slot.end_at, Slot.mode, Slot.territory_code, Slot.practitioner_id, Slot.site_id)
        .join(Slot, Slot.id == Booking.slot_id)
    )


async def booking_with_slot(session: AsyncSession, booking_id: uuid.UUID) -> RowMapping | None:
    return (await session.execute(_with_slot().where(Booking.id == booking_id))).mappings().first()


async def bookings_with_slots(
    session: AsyncSession, *, territories: set[str] | None, practitioner_id: uuid.UUID | None,
    created_by: str | None, status: str | None, limit: int, offset: int,
) -> list[RowMapping]:
    """Newest first; each filter given narrows (``territories`` None: every territory)."""
    stmt = _with_slot().order_by(Booking.created_at.desc(), Booking.id.desc()).limit(limit).offset(offset)
    if territories is not None:
        stmt = stmt.where(Slot.territory_code.in_(territories))
    if practitioner_id is not None:
        stmt = stmt.where(Slot.practitioner_id == practitioner_id)
    if created_by is not None:
        stmt = stmt.where(Booking.created_by == created_by)
    if status is not None:
        stmt = stmt.where(Booking.status == status)
    return list((await session.execute(stmt)).mappings().all())


# Cancel an active booking without outcome, in one statement: its slot is free again if it has not
# started; the call's slot decision is revoked and a call left without active booking is put back in
# the queue to be re-oriented, its territory told (calls domain).
CANCEL = f"""
    WITH cancelled AS (
        UPDATE bookings SET status = 'cancelled', cancelled_at = now(), cancelled_by = :sub,
                            cancel_reason = :cancel_reason
        WHERE id = :booking_id AND status = 'active' AND outcome IS NULL
        RETURNING id, slot_id, call_id
    ), freed AS (
        {RELEASE_SLOT}
    ), revoked AS (
        {REVOKE_SLOT_DECISION}
    ), reoriented AS (
        {REORIENT_CALL}
    )
    SELECT c.id, (SELECT count(*) FROM freed) AS freed, (SELECT count(*) FROM revoked) AS revoked,
           (SELECT count(*) FROM reoriented) AS reoriented
    FROM cancelled c
"""


async def cancel(
    session: AsyncSession, booking_id: uuid.UUID, *, sub: str, role: str, reason: str | None
) -> RowMapping | None:
    params = {"booking_id": booking_id, "sub": sub, "role": role, "cancel_reason": reason}
    return (await session.execute(text(CANCEL), params)).mappings().first()


# Move an active booking without outcome from its slot ``:from_slot_id`` to the published slot
# ``:slot_id`` of the same practitioner, in one statement (an appointment the practitioner's agenda moved,
# app/fhir/appointments.py): the new slot claimed by the same compare-and-set as every booking (free, not
# started, not held by another call, open to ``:bookers``) — the unique active booking per slot is the last
# guard —, the booking pointed at it (its id, call and decision stay: the same orientation, at another
# time), the old slot freed if it has not started, and the effector told as for a change of slot: the old
# time cancelled, then the new time booked. Run after the call is locked (``calls.repository.lock``); no
# row means nothing moved, and the caller rolls back what the statement may have claimed.
_MOVED_EVENT = ("'booking.created'", """FROM moved b JOIN claimed s ON s.id = b.slot_id
            JOIN sites si ON si.id = s.site_id JOIN calls c ON c.id = b.call_id""")
_LEFT_EVENT = ("'booking.cancelled'", """FROM (SELECT id, 'cancelled' AS status, created_at, now() AS cancelled_at,
                  call_id, from_slot_id FROM moved) b
            JOIN slots s ON s.id = b.from_slot_id JOIN sites si ON si.id = s.site_id
            JOIN calls c ON c.id = b.call_id""")
MOVE = f"""
    WITH origin AS (
        SELECT b.id, b.slot_id, b.call_id, o.practitioner_id FROM bookings b JOIN slots o ON o.id = b.slot_id
        WHERE b.id = :booking_id AND b.slot_id = :from_slot_id AND b.status = 'active' AND b.outcome IS NULL
    ), claimed AS (
        UPDATE slots s SET status = 'booked', held_by_call_id = NULL, held_until = NULL
        FROM origin
        WHERE s.id = :slot_id AND s.id <> origin.slot_id AND s.practitioner_id = origin.practitioner_id
          AND NOT s.over_capacity AND {CLAIMABLE}
        RETURNING s.id, s.territory_code, s.practitioner_id, s.site_id, s.start_at, s.end_at, s.mode
    ), moved AS (
        UPDATE bookings m SET slot_id = claimed.id
        FROM claimed, origin
        WHERE m.id = origin.id AND m.slot_id = origin.slot_id AND m.status = 'active' AND m.outcome IS NULL
        RETURNING m.id, m.slot_id, m.call_id, m.status, m.created_at, m.cancelled_at, origin.slot_id AS from_slot_id
    ), freed AS (
        UPDATE slots s SET status = 'free'
        FROM moved
        WHERE s.id = moved.from_slot_id AND s.status = 'booked' AND NOT s.over_capacity AND s.start_at > now()
        RETURNING s.id
    ), event AS (
        {insert_booking_events(_LEFT_EVENT, _MOVED_EVENT)}
    )
    SELECT m.id, m.slot_id, m.from_slot_id, (SELECT count(*) FROM freed) AS freed FROM moved m
"""


async def move(
    session: AsyncSession, booking_id: uuid.UUID, from_slot_id: uuid.UUID, slot_id: uuid.UUID,
    call_id: uuid.UUID, booker: dict[str, Any],
) -> RowMapping | None:
    """``MOVE``: the booking moved (id, slot_id, from_slot_id, freed), or None when nothing moved."""
    params = {"booking_id": booking_id, "from_slot_id": from_slot_id, "slot_id": slot_id, "call_id": call_id,
              **booker}
    return (await session.execute(text(MOVE), params)).mappings().first()


async def set_outcome(
    session: AsyncSession, booking_id: uuid.UUID, practitioner_id: uuid.UUID, status: str, note: str | None
) -> bool:
    """Once, by the slot's effector, after the slot's start, on an active booking."""
    stmt = (
        update(Booking)
        .where(Booking.id == booking_id, Slot.id == Booking.slot_id, Slot.practitioner_id == practitioner_id,
               Booking.status == "active", Booking.outcome.is_(None), Slot.start_at <= func.now())
        .values(outcome=status, outcome_note=note, outcome_at=func.now())
        .returning(Booking.id)
    )
    return (await session.execute(stmt)).first() is not None


# Whether La Poste knows a postcode (a redirected patient's), on the booking path's own connections.
POSTCODE_EXISTS = "SELECT 1 AS found FROM postcodes WHERE postcode = :postcode"
