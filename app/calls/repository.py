"""Every query of the calls domain."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, Row, RowMapping, and_, case, cast, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.audit.models import AuditEntry
from app.auth.models import User
from app.bookings.models import Booking
from app.calls.models import Call, CallbackAttempt, Decision, Observation
from app.calls.schemas import NO_PRIORITY
from app.identity import crypto
from app.platform.database import Statements
from app.practitioners.models import Practitioner
from app.sites.models import Site
from app.slots.models import Slot
from app.territories.models import DEFAULT_DELAYS

# The callback delay of a call received in territory ``t`` with priority ``{priority}`` (none: NO_PRIORITY's), in SQL
# (service.due_at says it in Python, for a call the API creates).
DUE_DELAY = ("make_interval(mins => COALESCE(CAST(t.priority_delays ->> "
             f"COALESCE({{priority}}, '{NO_PRIORITY}') AS int), {DEFAULT_DELAYS[NO_PRIORITY]}))")

# The call a booking without one creates, in the territory of the slot just claimed (``claimed``), in
# progress at once, with its due time: an ED redirection (channel urgences; the patient was at the
# emergency department, so without the SAS he would have been seen there: intent ``urgences``, which
# the declared-intent estimator counts as avoided) or a city professional's referral (channel
# professionnel, with the kind of referrer). The booking statement embeds it as a CTE.
NEW_DIRECT_CALL = f"""INSERT INTO calls (territory_code, channel, received_at, due_at, status, source, created_by,
                           intent_without_sas, referrer_kind, reason, patient_family_name, patient_given_name,
                           patient_birth_year, patient_sex, patient_phone, patient_postcode, patient_address,
                           patient_name_hashes, patient_phone_hashes, patient_email, notify, notify_consent)
        SELECT t.code, CAST(:channel AS text), now(), now() + {DUE_DELAY.format(priority="NULL")}, 'in_progress',
               'live', :sub, CAST(:intent AS text), CAST(:referrer_kind AS text), :reason, :family_name,
               :given_name, :birth_year, :sex, :phone, :postcode, :address,
               CAST(:name_hashes AS varchar[]), CAST(:phone_hashes AS varchar[]), CAST(:email AS text),
               CAST(:notify AS text), CAST(:notify_consent AS text)
        FROM claimed JOIN territories t ON t.code = claimed.territory_code
        RETURNING id, channel, reason, patient_given_name, patient_family_name, patient_birth_year, patient_sex,
                  patient_phone, patient_address"""

# What the call a booking makes says of its origin, by the role that books.
DIRECT_CALL_ORIGIN = {"urgences": {"channel": "urgences", "intent": "urgences"},
                      "referrer": {"channel": "professionnel", "intent": "inconnu"}}

# A call a booking names: visible (in ``scope``) and not closed; locked until the booking commits, so that a
# cancellation of another of its bookings, which locks it too (``lock``), sees this one or waits for it.
OPEN_CALL = """SELECT id, channel, reason, patient_given_name, patient_family_name, patient_birth_year, patient_sex,
               patient_phone, patient_address
        FROM calls WHERE id = :call_id AND status <> 'closed' AND territory_code IN (SELECT code FROM scope)
        FOR NO KEY UPDATE"""

# What each new booking ``b`` does to its call: the decision "orientation vers un créneau", and a
# waiting call taken in progress.
SLOT_DECISION = """INSERT INTO decisions (call_id, kind, booking_id, decided_at, created_by)
        SELECT b.call_id, 'slot', b.id, now(), :sub FROM b"""
CALL_IN_PROGRESS = """UPDATE calls SET status = 'in_progress'
        WHERE id IN (SELECT call_id FROM b) AND status IN ('waiting', 'to_reorient')"""

# What cancelling a booking ``cancelled`` (id, call_id) does to its call: the slot decision that
# pointed at it no longer holds (revoked, kept for the record; the report's masks are recounted from
# the decisions not revoked), and a call left without any active booking goes back to the queue as
# ``to_reorient``, closed or not, with who cancelled and why (the live stream, app/calls/live.py, tells the
# territory's consoles).
REVOKE_SLOT_DECISION = """UPDATE decisions d SET revoked_at = now(), revoked_by = :sub, revoked_reason = :cancel_reason
        FROM cancelled WHERE d.booking_id = cancelled.id AND d.revoked_at IS NULL
        RETURNING d.id"""
REORIENT_CALL = """UPDATE calls c SET status = 'to_reorient', closed_at = NULL, reorient_at = now(),
               reorient_by = :sub, reorient_by_role = :role, reorient_reason = :cancel_reason,
               reorient_booking_id = cancelled.id
        FROM cancelled
        WHERE c.id = cancelled.call_id AND c.purged_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM bookings o
                          WHERE o.call_id = c.id AND o.status = 'active' AND o.id <> cancelled.id)
        RETURNING c.id, c.territory_code, cancelled.id AS booking_id"""
# The import of past calls (app/calls/importer.py), in one statement: the calls, each column an array, with
# ``ON CONFLICT (territory_code, external_id) DO NOTHING``, and the decisions of the calls just inserted only
# (each closed when its call was), so that importing a file twice writes nothing the second time.
IMPORT_CLOSED_CALLS = text(f"""
WITH input AS (
    SELECT * FROM unnest(
        CAST(:territory_code AS text[]), CAST(:external_id AS text[]), CAST(:channel AS text[]),
        CAST(CAST(:received_at AS text[]) AS timestamptz[]), CAST(:priority AS text[]), CAST(:intent AS text[]),
        CAST(CAST(:first_callback_at AS text[]) AS timestamptz[]), CAST(CAST(:closed_at AS text[]) AS timestamptz[]),
        CAST(:postcode AS text[]), CAST(CAST(:birth_year AS text[]) AS int[]), CAST(:sex AS text[])
    ) AS i(territory_code, external_id, channel, received_at, priority, intent, first_callback_at, closed_at,
           postcode, birth_year, sex)
), inserted AS (
    INSERT INTO calls (territory_code, external_id, channel, received_at, priority, due_at, intent_without_sas,
                       status, first_callback_at, closed_at, source, created_by,
                       patient_postcode, patient_birth_year, patient_sex)
    SELECT i.territory_code, i.external_id, i.channel, i.received_at, i.priority,
           i.received_at + {DUE_DELAY.format(priority="i.priority")},
           i.intent, 'closed', i.first_callback_at, i.closed_at, 'import', :actor,
           i.postcode, i.birth_year, i.sex
    FROM input i JOIN territories t ON t.code = i.territory_code
    ON CONFLICT (territory_code, external_id) DO NOTHING
    RETURNING id, territory_code, external_id, closed_at
), decided AS (
    INSERT INTO decisions (call_id, kind, other_reason, pharmacy_name, pharmacy_finess, decided_at, created_by)
    SELECT c.id, d.kind, d.other_reason, d.pharmacy_name, d.pharmacy_finess, c.closed_at, :actor
    FROM unnest(
        CAST(:d_territory_code AS text[]), CAST(:d_external_id AS text[]), CAST(:d_kind AS text[]),
        CAST(:d_other_reason AS text[]), CAST(:d_pharmacy_name AS text[]), CAST(:d_pharmacy_finess AS text[])
    ) AS d(territory_code, external_id, kind, other_reason, pharmacy_name, pharmacy_finess)
    JOIN inserted c ON c.territory_code = d.territory_code AND c.external_id = d.external_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM inserted) AS imported, (SELECT count(*) FROM decided) AS decisions
""")


async def import_closed_calls(session: AsyncSession, columns: dict[str, list[Any]], *, actor: str) -> tuple[int, int]:
    """Write the imported calls and their decisions (``columns``: IMPORT_CLOSED_CALLS's arrays); how many calls
    and how many decisions were written (a call already there is skipped with its decisions)."""
    result = (await session.execute(IMPORT_CLOSED_CALLS, {**columns, "actor": actor})).one()
    return int(result.imported), int(result.decisions)


# Late: not called back yet, not closed, and past the callback target of its priority.
LATE = and_(Call.status != "closed", Call.first_callback_at.is_(None), Call.due_at < func.now())
MINUTES_LATE = case(
    (LATE, cast(func.floor(func.extract("epoch", func.now() - Call.due_at) / 60), Integer)), else_=0
)


# The live queue the regulators see: the calls not closed, but an ED redirection that has its appointment is
# done: it leaves the queue (and comes back, to re-orient, if the appointment is cancelled).
_ED_BOOKED = and_(Call.channel == "urgences",
                  select(Booking.id).where(Booking.call_id == Call.id, Booking.status == "active").exists())
IN_LIVE_QUEUE = and_(Call.status != "closed", ~_ED_BOOKED)
# Nobody has taken it: waiting, or back to re-orient, and assigned to no regulator.
UNTAKEN = and_(Call.status.in_(("waiting", "to_reorient")), Call.assigned_to.is_(None))


def _with_lateness() -> Any:
    return select(Call, LATE.label("late"), MINUTES_LATE.label("minutes_late"))


_INSERT_CALL = insert(Call).returning(Call, LATE.label("late"), MINUTES_LATE.label("minutes_late"))


async def insert_call(session: AsyncSession, values: dict[str, Any]) -> Row[Any]:
    """A new call, returned (``Call``) with its lateness columns, as ``get`` reads it. The values are the
    statement's parameters (one statement, compiled once), not clauses built again for every call."""
    return (await session.execute(_INSERT_CALL, [values])).one()


async def display_name(session: AsyncSession, subject: str) -> str | None:
    """The registry's name of the user with this subject, if it knows one."""
    return await session.scalar(select(User.display_name).where(User.subject == subject, User.active.is_(True)))


async def get(session: AsyncSession, call_id: uuid.UUID) -> Row[Any] | None:
    """The call with its lateness columns."""
    return (await session.execute(_with_lateness().where(Call.id == call_id))).first()


async def lock(session: AsyncSession, call_id: uuid.UUID) -> Call | None:
    """The call, row-locked until the transaction ends: writes on one call are serialised."""
    stmt = select(Call).where(Call.id == call_id).with_for_update()
    return (await session.scalars(stmt)).first()


# The columns of a queue line (``CallSummary``'s, and what its reorientation and triage are made of): the
# queue reads these alone, never the sealed identity nor the search hashes of every call of a page.
QUEUE_COLUMNS = (
    "id", "territory_code", "channel", "referrer_kind", "received_at", "priority", "due_at", "status", "assigned_to",
    "assigned_name", "samu_case_id", "intent_without_sas", "first_callback_at", "closed_at", "source", "created_at",
    "reorient_at", "reorient_by", "reorient_by_role", "reorient_reason", "reorient_booking_id",
)
TRIAGE_COLUMNS = ("patient_birth_year", "patient_sex", "reason")


async def queue(
    statements: Statements, *, territories: set[str] | None, status: str | None, limit: int, offset: int,
    open_only: bool = False, samu_case_id: str | None = None, triage: bool = False,
) -> Sequence[RowMapping]:
    """A page of the queue, soonest due first: the line's columns (``QUEUE_COLUMNS``, and ``TRIAGE_COLUMNS``
    when ``triage``), ``late`` and ``minutes_late``."""
    names = QUEUE_COLUMNS + (TRIAGE_COLUMNS if triage else ())
    columns = [Call.__table__.c[name] for name in names]
    stmt = (select(*columns, LATE.label("late"), MINUTES_LATE.label("minutes_late"))
            .order_by(Call.due_at.asc().nulls_last(), Call.received_at, Call.id))
    if territories is not None:
        stmt = stmt.where(Call.territory_code.in_(territories))
    if samu_case_id:
        stmt = stmt.where(Call.samu_case_id == samu_case_id)
    if status:
        stmt = stmt.where(Call.status == status)
    if open_only:
        stmt = stmt.where(IN_LIVE_QUEUE)
    return await statements.rows(stmt.limit(limit).offset(offset))


async def queue_gauges(conn: AsyncConnection) -> dict[str, list[RowMapping]]:
    """For /metrics, per territory: the calls of the live queue past their callback target by priority (none:
    NO_PRIORITY's), and those nobody has taken with the oldest one's age. Counts only: nothing of a patient."""
    priority = func.coalesce(Call.priority, NO_PRIORITY).label("priority")
    late = (select(Call.territory_code, priority, func.count().filter(LATE).label("n"))
            .where(IN_LIVE_QUEUE).group_by(Call.territory_code, priority))
    waiting_since = case((Call.status == "to_reorient", func.coalesce(Call.reorient_at, Call.received_at)),
                         else_=Call.received_at)
    untaken = (select(Call.territory_code, func.count().label("n"),
                      func.extract("epoch", func.now() - func.min(waiting_since)).label("oldest_seconds"))
               .where(IN_LIVE_QUEUE, UNTAKEN).group_by(Call.territory_code))
    return {"late": list((await conn.execute(late)).mappings()),
            "untaken": list((await conn.execute(untaken)).mappings())}


async def made_by(session: AsyncSession, sub: str, *, limit: int, offset: int) -> Sequence[Row[Any]]:
    """The calls this user made (a referrer's referrals), newest first."""
    stmt = (_with_lateness().where(Call.created_by == sub, Call.referrer_kind.is_not(None))
            .order_by(Call.received_at.desc(), Call.id.desc()))
    return (await session.execute(stmt.limit(limit).offset(offset))).all()


async def find_recent(
    session: AsyncSession, *, territories: set[str] | None, name: str | None, phone: str | None,
    since: dt.datetime,
) -> Sequence[Row[Any]]:
    """Calls received since ``since`` whose patient's name starts with ``name`` (either name, case and
    accents ignored) or whose phone begins or ends with ``phone`` (4 digits or more); newest first, 50 at
    most."""
    stmt = _with_lateness().where(Call.received_at >= since)
    if territories is not None:
        stmt = stmt.where(Call.territory_code.in_(territories))
    ring = crypto.ring()  # identity is sealed: found by the keyed hashes of its name prefixes, phone endings
    if phone:
        stmt = stmt.where(Call.patient_phone_hashes.contains([ring.phone_query(phone)]))
    else:
        assert name is not None
        stmt = stmt.where(Call.patient_name_hashes.contains([ring.name_query(name)]))
    return (await session.execute(stmt.order_by(Call.received_at.desc()).limit(50))).all()


async def decisions_of(session: AsyncSession, call_id: uuid.UUID) -> Sequence[Decision]:
    stmt = select(Decision).where(Decision.call_id == call_id).order_by(Decision.decided_at, Decision.created_at)
    return (await session.scalars(stmt)).all()


async def callbacks_of(session: AsyncSession, call_id: uuid.UUID) -> Sequence[CallbackAttempt]:
    stmt = select(CallbackAttempt).where(CallbackAttempt.call_id == call_id).order_by(CallbackAttempt.at)
    return (await session.scalars(stmt)).all()


async def bookings_of(session: AsyncSession, call_id: uuid.UUID) -> Sequence[Booking]:
    stmt = select(Booking).where(Booking.call_id == call_id).order_by(Booking.created_at)
    return (await session.scalars(stmt)).all()


async def decision(session: AsyncSession, decision_id: uuid.UUID) -> Decision | None:
    return await session.get(Decision, decision_id)


async def booking(session: AsyncSession, booking_id: uuid.UUID) -> Booking | None:
    return await session.get(Booking, booking_id)


async def has_decision(session: AsyncSession, call_id: uuid.UUID) -> bool:
    """Whether the call holds a decision that still holds (not revoked)."""
    stmt = select(select(Decision.id).where(Decision.call_id == call_id, Decision.revoked_at.is_(None)).exists())
    return bool(await session.scalar(stmt))


async def purge_identity(session: AsyncSession, cutoff: dt.datetime) -> int:
    """Empty the identity of calls received before ``cutoff`` (one statement); how many were purged."""
    stmt = (
        update(Call)
        .where(Call.received_at < cutoff, Call.purged_at.is_(None),
               # only calls holding something to purge: millions of imported calls (which carry no
               # identity) are not rewritten by the first scheduled purge
               or_(Call.patient_family_name.is_not(None), Call.patient_given_name.is_not(None),
                   Call.patient_phone.is_not(None), Call.patient_postcode.is_not(None), Call.reason.is_not(None),
                   Call.patient_address.is_not(None), Call.reorient_reason.is_not(None),
                   Call.patient_email.is_not(None), Call.general_practitioner.is_not(None)))
        .values(
            patient_family_name=None, patient_given_name=None, patient_phone=None, patient_postcode=None,
            patient_address=None, patient_email=None, notify="none", reason=None, reorient_reason=None,
            general_practitioner=None,
            patient_name_hashes=None, patient_phone_hashes=None, purged_at=func.now(),
        )
    )
    result = await session.execute(stmt, execution_options={"synchronize_session": False})
    # Free text said when a booking or a decision was cancelled may name the patient: it goes too.
    for table, column in ((Booking, Booking.cancel_reason), (Decision, Decision.revoked_reason)):
        of_old_call = select(Call.id).where(Call.id == table.call_id, Call.received_at < cutoff).exists()
        await session.execute(update(table).where(column.is_not(None), of_old_call).values({column: None}),
                              execution_options={"synchronize_session": False})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def call_place(session: AsyncSession, call_id: uuid.UUID) -> RowMapping | None:
    """A call's territory, and where and how old its patient is (what a search for it matches on)."""
    stmt = select(Call.territory_code, Call.patient_postcode, Call.patient_birth_year).where(Call.id == call_id)
    return (await session.execute(stmt)).mappings().first()


async def active_bookings_of(session: AsyncSession, call_id: uuid.UUID) -> list[uuid.UUID]:
    """The call's active bookings (their effectors hold a copy of the patient's identity)."""
    stmt = select(Booking.id).where(Booking.call_id == call_id, Booking.status == "active")
    return list((await session.scalars(stmt)).all())


async def observations_of(session: AsyncSession, call_id: uuid.UUID) -> Sequence[Observation]:
    """A call's observations, in the order they were written."""
    stmt = select(Observation).where(Observation.call_id == call_id).order_by(Observation.at, Observation.id)
    return (await session.scalars(stmt)).all()


async def observation_of_call(session: AsyncSession, call_id: uuid.UUID, observation_id: uuid.UUID) -> bool:
    found = await session.scalar(select(Observation.id).where(Observation.id == observation_id,
                                                              Observation.call_id == call_id))
    return found is not None


async def purge_observations(session: AsyncSession, cutoff: dt.datetime) -> int:
    """Empty the text of observations written before ``cutoff`` (the record's retention), dated, and what
    the prescriptions decided then prescribed."""
    result = await session.execute(
        update(Observation).where(Observation.at < cutoff, Observation.text.is_not(None))
        .values(text=None, purged_at=func.now()))
    await session.execute(update(Decision).where(Decision.decided_at < cutoff, Decision.prescribed.is_not(None))
                          .values(prescribed=None))
    return int(getattr(result, "rowcount", 0) or 0)


async def appointments_of(session: AsyncSession, call_id: uuid.UUID) -> Sequence[Any]:
    """The call's bookings with what the timeline says of each: when, with whom, where."""
    stmt = (select(Booking, Slot.start_at, Slot.mode, Slot.over_capacity, Practitioner.family_name,
                   Practitioner.given_name, Site.name.label("site_name"))
            .join(Slot, Slot.id == Booking.slot_id)
            .join(Practitioner, Practitioner.id == Slot.practitioner_id)
            .join(Site, Site.id == Slot.site_id)
            .where(Booking.call_id == call_id).order_by(Booking.created_at))
    return (await session.execute(stmt)).all()


async def audit_of(session: AsyncSession, call_id: uuid.UUID, actions: Sequence[str]) -> Sequence[AuditEntry]:
    """What the audit log says was done to the call (not who read it)."""
    stmt = (select(AuditEntry).where(AuditEntry.call_id == call_id, AuditEntry.action.in_(actions))
            .order_by(AuditEntry.at, AuditEntry.id))
    return (await session.scalars(stmt)).all()


async def display_names(session: AsyncSession, subjects: set[str]) -> dict[str, str]:
    """The registry's names of these subjects, for those it knows."""
    if not subjects:
        return {}
    rows = await session.execute(select(User.subject, User.display_name).where(User.subject.in_(subjects)))
    return {subject: name for subject, name in rows if subject and name}
