"""The regulation rules: qualify, call back, decide, close; purge the identity after the retention."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Any

from pydantic_core import to_json
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.principal import Principal
from app.calls import repository
from app.calls.errors import CallHeld
from app.calls.models import Call, CallbackAttempt, Decision, Observation
from app.calls.schemas import (
    EARLIEST,
    LIVE_ENTRY_MINUTES,
    NO_PRIORITY,
    TRIAGE_EXCERPT,
    AssignIn,
    BookingBrief,
    CallbackIn,
    CallbackRead,
    CallCreate,
    CallDetail,
    CallPatch,
    CallPatient,
    CallRead,
    CallSummary,
    DecisionCreate,
    DecisionMisfit,
    DecisionRead,
    GeneralPractitionerIn,
    GeneralPractitionerRead,
    MessageRead,
    ObservationIn,
    ObservationRead,
    PatientRead,
    PurgeResult,
    ReferralCreate,
    Reorientation,
    RevokeIn,
    decision_misfit,
    general_practitioner_misfit,
    notify_misfit,
)
from app.identity import crypto
from app.identity.sealing import open_json, opened, seal_json, sealed_columns
from app.notices import reports
from app.notices import repository as notices
from app.outbox import events as outbox
from app.platform.database import Statements
from app.platform.errors import Conflict, NotFound, Unprocessable
from app.platform.logging import log
from app.practitioners import repository as practitioner_repository
from app.territories import repository as territory_repository
from app.territories import service as territory_service
from app.territories.models import DEFAULT_DELAYS, Territory
from app.territories.repository import TerritoryFacts


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def due_at(territory: Territory | TerritoryFacts, received_at: dt.datetime, priority: str | None) -> dt.datetime:
    """received_at + the territory's delay for the priority (no priority: NO_PRIORITY's delay)."""
    delays = territory.priority_delays or DEFAULT_DELAYS
    key = priority or NO_PRIORITY
    minutes = int(delays.get(key) or DEFAULT_DELAYS[key])
    return received_at + dt.timedelta(minutes=minutes)


async def _check_postcode(
    session: AsyncSession, territory: Territory | TerritoryFacts, postcode: str | None, out_of_territory: bool
) -> None:
    """A patient's postcode exists (La Poste), and is one the call's territory serves unless the call says
    the patient is out of it: an Indre call with a Paris postcode sent a doctor 198 km away."""
    if postcode is None:
        return
    # A CPTS is served by its own list when it has one, else by its département's (La Poste's).
    own = list(territory.postcodes or []) if territory.kind == "cpts" else []
    departement = territory.parent_code if territory.kind == "cpts" else territory.code
    known, inside, served = await territory_repository.postcode_in_departement(
        session, postcode, departement or territory.code)
    if not known:
        raise Unprocessable(f"Postcode {postcode} does not exist (La Poste)", field="patient.postcode")
    if own:
        inside, served = postcode in own, True
    if out_of_territory:
        return
    if served and not inside:
        raise Unprocessable(f"Postcode {postcode} is outside territory {territory.code}: say out_of_territory if "
                            "the patient is elsewhere", field="patient.postcode")


def _check_notify(notify: str, consent: str | None, *, phone: str | None, email: str | None,
                  birth_year: int | None) -> None:
    misfit = notify_misfit(notify, consent, phone=phone, email=email, birth_year=birth_year, year=now().year)
    if misfit is not None:
        field, why = misfit
        raise Unprocessable(why[0].upper() + why[1:], field=field)


async def _general_practitioner(session: AsyncSession, gp: GeneralPractitionerIn | None) -> dict[str, Any] | None:
    """The médecin traitant as the call keeps him (sealed): an RPPS we know brings his names and MSSanté address
    (what was typed wins); an unreachable one is a 422."""
    if gp is None:
        return None
    known = await practitioner_repository.by_rpps(session, gp.rpps) if gp.rpps else None
    misfit = general_practitioner_misfit(gp, known=known is not None,
                                         known_address=known.mssante_address if known else None)
    if misfit is not None:
        field, why = misfit
        raise Unprocessable(why[0].upper() + why[1:], field=field)
    return {"rpps": gp.rpps, "known": known is not None,
            "family_name": gp.family_name or (known.family_name if known else None),
            "given_name": gp.given_name or (known.given_name if known else None),
            "mssante_address": gp.mssante_address or (known.mssante_address if known else None)}


def check_not_future(value: dt.datetime, field: str, skew_seconds: int) -> None:
    if value > now() + dt.timedelta(seconds=skew_seconds):
        raise Unprocessable(f"{field} lies in the future", field=field)
    if value < EARLIEST:
        raise Unprocessable(f"{field} is before {EARLIEST.year}", field=field)


def check_after_received(call: Call, value: dt.datetime, field: str) -> None:
    if value < call.received_at:
        raise Unprocessable(f"{field} is before the call was received ({call.received_at.isoformat()})", field=field)


async def _visible_territory(session: AsyncSession, principal: Principal, code: str) -> TerritoryFacts:
    """The facts of a territory the principal acts on (kept: no round trip on a console's request); else 404."""
    visible = await _visible_codes(session, principal)
    found = None if visible is not None and code not in visible else await territory_repository.facts(session, code)
    if found is None:
        raise NotFound(f"Territory {code} not found", field="territory_code")
    return found


async def create(
    session: AsyncSession, principal: Principal, data: CallCreate, *, skew_seconds: int,
    referrer_kind: str | None = None,
) -> CallRead:
    territory = await _visible_territory(session, principal, data.territory_code)
    received_at = data.received_at or now()
    check_not_future(received_at, "received_at", skew_seconds)
    patient = data.patient
    if patient.phone is None and received_at > now() - dt.timedelta(minutes=LIVE_ENTRY_MINUTES):
        raise Unprocessable("A call entered live needs a way to reach the patient: his phone (a call entered "
                            f"after the fact, received more than {LIVE_ENTRY_MINUTES} minutes ago, may go without)",
                            field="patient.phone")
    await _check_postcode(session, territory, patient.postcode, data.out_of_territory)
    _check_notify(data.notify, data.notify_consent, phone=patient.phone, email=patient.email,
                  birth_year=patient.birth_year)
    # Written and read back with its lateness in one statement (RETURNING): no second read of the new call.
    row = await repository.insert_call(session, dict(
        territory_code=territory.code, channel=data.channel, referrer_kind=referrer_kind, received_at=received_at,
        priority=data.priority, samu_case_id=data.samu_case_id,
        due_at=due_at(territory, received_at, data.priority),
        intent_without_sas=data.intent_without_sas, status="waiting", source="live", created_by=principal.sub,
        patient_birth_year=patient.birth_year, patient_sex=patient.sex, patient_postcode=patient.postcode,
        notify=data.notify, notify_consent=data.notify_consent, gp_report=data.gp_report,
        general_practitioner=seal_json(crypto.ring(), await _general_practitioner(session, data.general_practitioner),
                                       "general_practitioner"),
        **sealed_columns(crypto.ring(), family_name=patient.family_name, given_name=patient.given_name,
                         phone=patient.phone, address=patient.address, reason=data.reason, email=patient.email),
    ))
    call = row.Call
    log.info("call.created", call_id=str(call.id), territory=call.territory_code, channel=call.channel,
             priority=call.priority)
    return _read_model(call, row.late, row.minutes_late)


async def refer(
    session: AsyncSession, principal: Principal, data: ReferralCreate, *, skew_seconds: int
) -> CallSummary:
    """A referrer's call: channel professionnel, his kind, waiting in the territory's queue."""
    assert principal.referrer_kind is not None
    created = await create(session, principal, CallCreate(
        territory_code=data.territory_code, channel="professionnel", patient=CallPatient(**data.patient.model_dump()),
        reason=data.reason, priority=data.priority, notify=data.notify, notify_consent=data.notify_consent),
        skew_seconds=skew_seconds, referrer_kind=principal.referrer_kind)
    return await summary(session, created.id)


async def my_referrals(session: AsyncSession, principal: Principal, *, limit: int, offset: int) -> list[CallSummary]:
    rows = await repository.made_by(session, principal.sub, limit=limit, offset=offset)
    return [CallSummary(**_summary_fields(r.Call, r.late, r.minutes_late)) for r in rows]


def excerpt(text: str | None, size: int = TRIAGE_EXCERPT) -> str | None:
    """The first words of ``text``, ``size`` characters at most, cut at a word and marked when cut."""
    if not text:
        return None
    flat = " ".join(text.split())
    if len(flat) <= size:
        return flat
    cut = flat[: size - 1].rsplit(" ", 1)[0] if " " in flat[: size - 1] else flat[: size - 1]
    return cut + "…"


async def _visible_codes(session: AsyncSession, principal: Principal) -> set[str] | None:
    return await territory_service.visible_codes(session, principal)


async def _ensure_call_visible(
    session: AsyncSession, principal: Principal, call: Call | None, call_id: uuid.UUID
) -> Call:
    if call is not None:
        visible = await _visible_codes(session, principal)
        if visible is None or call.territory_code in visible:
            return call
    raise NotFound(f"Call {call_id} not found")


async def ensure_visible(session: AsyncSession, principal: Principal, call_id: uuid.UUID) -> Call:
    """The call, if the principal's territories see it (404 otherwise)."""
    found = await repository.get(session, call_id)
    return await _ensure_call_visible(session, principal, found.Call if found else None, call_id)


_COMPUTED = ("late", "minutes_late", "reorientation", "triage")


def _summary_fields(call: Call, late: bool, minutes_late: int) -> dict[str, Any]:
    fields = {name: getattr(call, name) for name in CallSummary.model_fields if name not in _COMPUTED}
    reorientation = None if call.reorient_at is None else Reorientation(
        at=call.reorient_at, by=call.reorient_by, by_role=call.reorient_by_role, reason=call.reorient_reason,
        booking_id=call.reorient_booking_id)
    return {**fields, "late": bool(late), "minutes_late": int(minutes_late), "reorientation": reorientation}


def _read_model(call: Call, late: bool, minutes_late: int) -> CallRead:
    identity = opened(crypto.ring(), call)
    patient = PatientRead(
        family_name=identity["family_name"], given_name=identity["given_name"],
        birth_year=call.patient_birth_year, sex=call.patient_sex, phone=identity["phone"],
        postcode=call.patient_postcode, address=identity["address"], email=identity["email"],
    )
    gp = open_json(crypto.ring(), call.general_practitioner, "general_practitioner")
    return CallRead(
        **_summary_fields(call, late, minutes_late), reason=identity["reason"], created_by=call.created_by,
        external_id=call.external_id, purged_at=call.purged_at, patient=patient, notify=call.notify,
        notify_consent=call.notify_consent, gp_report=call.gp_report,
        general_practitioner=GeneralPractitionerRead(**gp) if gp else None,
    )


async def _read(session: AsyncSession, call_id: uuid.UUID) -> CallRead:
    row = await repository.get(session, call_id)
    assert row is not None
    return _read_model(row.Call, row.late, row.minutes_late)


async def find(session: AsyncSession, principal: Principal, q: str) -> list[CallRead]:
    digits = re.sub(r"\D", "", q)
    phone = digits if len(digits) >= 4 else None
    name = None if phone else q.strip()
    if not phone and (name is None or len(name) < 2 or any(ch.isdigit() for ch in name)):
        raise Unprocessable("q: at least 2 letters of a name, or 4 digits of a phone", field="q")
    visible = await _visible_codes(session, principal)
    rows = await repository.find_recent(session, territories=visible, name=name, phone=phone,
                                        since=now() - dt.timedelta(hours=24))
    for row in rows:
        audit.record(session, principal, "call.found", call_id=row.Call.id)
    return [_read_model(r.Call, r.late, r.minutes_late) for r in rows]


async def summary(session: AsyncSession, call_id: uuid.UUID) -> CallSummary:
    row = await repository.get(session, call_id)
    assert row is not None
    return CallSummary(**_summary_fields(row.Call, row.late, row.minutes_late))


async def get_detail(session: AsyncSession, principal: Principal, call_id: uuid.UUID) -> CallDetail:
    """The call with its patient data, decisions, callbacks and bookings; the read is audited."""
    row = await repository.get(session, call_id)
    call = await _ensure_call_visible(session, principal, row.Call if row else None, call_id)
    assert row is not None
    audit.record(session, principal, "call.read", call_id=call.id)
    decisions = await repository.decisions_of(session, call.id)
    callbacks = await repository.callbacks_of(session, call.id)
    bookings = await repository.bookings_of(session, call.id)
    base = _read_model(call, row.late, row.minutes_late)
    return CallDetail(
        **base.model_dump(exclude={"patient"}), patient=base.patient,
        decisions=[decision_read(d) for d in decisions],
        callbacks=[CallbackRead.model_validate(c) for c in callbacks],
        bookings=[BookingBrief.model_validate(b) for b in bookings],
        messages=[MessageRead.model_validate(dict(m)) for m in await notices.of_call(session, call.id)],
    )


_FIELDS = tuple(CallSummary.model_fields)
_LINE_HEAD = _FIELDS[:_FIELDS.index("late")]
_LINE_TAIL = _FIELDS[_FIELDS.index("minutes_late") + 1:_FIELDS.index("reorientation")]
assert _FIELDS[-2:] == ("reorientation", "triage"), "a queue line's fields and _line go together"


def _line(row: RowMapping) -> dict[str, Any]:
    """A queue line in plain data, in ``CallSummary``'s fields' order, from ``repository.queue``'s columns: not
    validated again (the columns are the schema's; a test holds the page to the schema byte for byte).
    ``_summary_fields`` says the same of a call; built from it (a model for each reorientation, attributes of a
    row) the queue cost its API 14 to 22 % more CPU (bench_costs, alternated)."""
    line = {name: row[name] for name in _LINE_HEAD}
    line["id"] = str(row["id"])  # as text: asyncpg's UUID costs the serializer ~1 µs (app/bookings/search.py, _found)
    line["late"], line["minutes_late"] = bool(row["late"]), int(row["minutes_late"])
    for name in _LINE_TAIL:
        line[name] = row[name]
    line["reorientation"] = None if row["reorient_at"] is None else {
        "at": row["reorient_at"], "by": row["reorient_by"], "by_role": row["reorient_by_role"],
        "reason": row["reorient_reason"],
        "booking_id": None if row["reorient_booking_id"] is None else str(row["reorient_booking_id"])}
    line["triage"] = None
    return line


async def queue(
    session: AsyncSession, statements: Statements, principal: Principal, *, territory: str | None,
    status: str | None, limit: int, offset: int, open_only: bool = False, samu_case_id: str | None = None,
    triage: bool = False,
) -> bytes:
    """The queue's page as JSON (``list[CallSummary]``), written in one step: a console reads it every few
    seconds, so it is one statement on its own (the scope is known), of the columns a line shows, not whole
    calls and models; ``session`` only records the triage's reading."""
    scope = await _visible_codes(session, principal)
    if territory:
        await _visible_territory(session, principal, territory)
        wanted = await territory_repository.with_children(session, [territory])
        scope = wanted if scope is None else wanted & scope
    # The scope is kept, but a miss reads it through the session, which then holds a connection until the request
    # ends: give it back before the statement takes its own. A burst of queue reads that each held one and waited
    # for another took every connection of the pool (nothing was written: there is nothing to lose).
    if session.in_transaction():
        await session.commit()
    rows = await repository.queue(statements, territories=scope, status=status, limit=limit, offset=offset,
                                  open_only=open_only, samu_case_id=samu_case_id, triage=triage)
    lines = [_line(r) for r in rows]
    if triage and rows:
        # Age, sex and the reason's first words are health data read by a person: one audit entry per
        # reading of the queue, naming the calls it showed.
        audit.record(session, principal, "calls.triage.read", detail={"call_ids": [str(r["id"]) for r in rows]})
        ring, year = crypto.ring(), dt.datetime.now(dt.UTC).year
        for line, r in zip(lines, rows, strict=True):
            line["triage"] = {
                "age": None if r["patient_birth_year"] is None else max(0, year - r["patient_birth_year"]),
                "sex": r["patient_sex"], "reason_excerpt": excerpt(ring.open(r["reason"], "reason"))}
    return to_json(lines)


async def _open_call_for_write(session: AsyncSession, principal: Principal, call_id: uuid.UUID) -> Call:
    """The call, row-locked, visible to the principal and not closed."""
    call = await _ensure_call_visible(session, principal, await repository.lock(session, call_id), call_id)
    if call.status == "closed":
        raise Conflict(f"Call {call_id} is closed")
    return call


def _start(call: Call) -> None:
    if call.status in ("waiting", "to_reorient"):
        call.status = "in_progress"


async def assign(session: AsyncSession, principal: Principal, call_id: uuid.UUID, data: AssignIn) -> CallSummary:
    """Give the call to a regulator (yourself by default). A call someone else has is taken over only when
    the request says so: two regulators on one patient, unknowingly, is what this prevents."""
    call = await _open_call_for_write(session, principal, call_id)
    target = data.assigned_to or (principal.sub if principal.role in ("regulator", "admin") else None)
    if target is None:
        raise Unprocessable("Name the regulator the call is assigned to", field="assigned_to")
    holder = call.assigned_to
    if holder is not None and holder != target and not data.take_over:
        name = call.assigned_name or holder
        raise CallHeld(f"{name} has this call: say take_over to take it", field="take_over", holder=holder,
                       holder_name=name)
    call.assigned_to = target
    mine = principal.display_name if target == principal.sub else None
    call.assigned_name = mine or await repository.display_name(session, target) or target
    _start(call)
    await session.flush()
    if holder is not None and holder != target:
        audit.record(session, principal, "call.taken_over", call_id=call.id,
                     detail={"from": holder, "to": target})
    elif holder != target:
        audit.record(session, principal, "call.assigned", call_id=call.id,
                     detail={"to": target, "name": call.assigned_name})
    log.info("call.assigned", call_id=str(call.id), taken_over=holder is not None and holder != target)
    return await summary(session, call.id)


# The patient's fields a correction may change → the call's column (the sealed ones are opened and sealed
# again; what changed is audited with its old and new values, sealed as the call's are).
_PLAIN_PATIENT = {"birth_year": "patient_birth_year", "sex": "patient_sex", "postcode": "patient_postcode"}
# What the effector of an active booking is told again when it changes (he calls or visits the patient).
_TOLD_TO_EFFECTOR = {"patient.family_name", "patient.given_name", "patient.phone", "patient.address"}


async def correct(
    session: AsyncSession, principal: Principal, call_id: uuid.UUID, data: CallPatch
) -> CallRead:
    """Correct a call after its entry (patient fields, reason, priority, SAMU file number). Each change is
    audited with its old and new values (sealed); a new priority moves the due time; a corrected name,
    phone or address of a call with an active booking reaches its effector (``booking.updated``)."""
    call = await _ensure_call_visible(session, principal, await repository.lock(session, call_id), call_id)
    ring = crypto.ring()
    identity = opened(ring, call)
    changes: dict[str, tuple[Any, Any]] = {}
    sent = data.model_fields_set
    if "patient" in sent and data.patient is not None:
        for name in data.patient.model_fields_set:
            new = getattr(data.patient, name)
            old = identity[name] if name in identity else getattr(call, _PLAIN_PATIENT[name])
            if new != old:
                changes[f"patient.{name}"] = (old, new)
                if name in identity:
                    identity[name] = new
                else:
                    setattr(call, _PLAIN_PATIENT[name], new)
    if "reason" in sent and data.reason != identity["reason"]:
        changes["reason"] = (identity["reason"], data.reason)
        identity["reason"] = data.reason
    if "general_practitioner" in sent:
        old_gp = open_json(ring, call.general_practitioner, "general_practitioner")
        new_gp = await _general_practitioner(session, data.general_practitioner)
        if new_gp != old_gp:
            changes["general_practitioner"] = (_json(old_gp), _json(new_gp))
            call.general_practitioner = seal_json(ring, new_gp, "general_practitioner")
    for name in ("priority", "samu_case_id", "notify", "notify_consent", "gp_report"):
        if name == "notify" and data.notify is None:
            continue  # notify is never null: none says not to tell
        if name in sent and getattr(data, name) != getattr(call, name):
            changes[name] = (getattr(call, name), getattr(data, name))
            setattr(call, name, getattr(data, name))
    if not changes:
        return await _read(session, call.id)
    if changes.keys() & {"notify", "notify_consent", "patient.phone", "patient.email", "patient.birth_year"}:
        _check_notify(call.notify, call.notify_consent, phone=identity["phone"], email=identity["email"],
                      birth_year=call.patient_birth_year)
    if "patient.postcode" in changes:
        territory = await territory_repository.get(session, call.territory_code)
        assert territory is not None
        await _check_postcode(session, territory, call.patient_postcode, data.out_of_territory)
    for column, value in sealed_columns(ring, **identity).items():
        setattr(call, column, value)
    if "priority" in changes:
        territory = await territory_repository.get(session, call.territory_code)
        assert territory is not None
        call.due_at = due_at(territory, call.received_at, call.priority)
    audit.record(session, principal, "call.corrected", call_id=call.id, detail={
        name: {"old": ring.seal(_text(old), "audit"), "new": ring.seal(_text(new), "audit")}
        for name, (old, new) in changes.items()})
    await session.flush()
    if "notify" in changes:  # a consent withdrawn (or a channel): what is still to send on it goes
        await notices.withdraw_unwanted(session, call.id, call.notify)
    if _TOLD_TO_EFFECTOR & changes.keys():
        for booking_id in await repository.active_bookings_of(session, call.id):
            await outbox.add_booking_event(session, booking_id, "booking.updated")
    log.info("call.corrected", call_id=str(call.id), fields=sorted(changes))
    return await _read(session, call.id)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _observation(row: Observation, corrected_by: list[uuid.UUID]) -> ObservationRead:
    return ObservationRead(
        id=row.id, call_id=row.call_id, at=row.at, author=row.author, author_role=row.author_role,
        author_name=row.author_name, text=crypto.ring().open(row.text, "observation"), corrects=row.corrects,
        corrected_by=corrected_by)


async def observe(
    session: AsyncSession, principal: Principal, call_id: uuid.UUID, data: ObservationIn
) -> ObservationRead:
    """Add an observation to the call's record (a closed call's too: a note may come after the end). It is
    never changed: a correction names the observation it corrects, and both stay."""
    call = await _ensure_call_visible(session, principal, await repository.lock(session, call_id), call_id)
    if data.corrects is not None and not await repository.observation_of_call(session, call.id, data.corrects):
        raise Unprocessable(f"Observation {data.corrects} is not one of this call's", field="corrects")
    name = principal.display_name or await repository.display_name(session, principal.sub)
    row = Observation(call_id=call.id, author=principal.sub, author_role=principal.role, author_name=name,
                      text=crypto.ring().seal(data.text, "observation"), corrects=data.corrects)
    session.add(row)
    await session.flush()
    await session.refresh(row)
    log.info("call.observed", call_id=str(call.id), correction=data.corrects is not None)
    return _observation(row, [])


async def observations(session: AsyncSession, principal: Principal, call_id: uuid.UUID) -> list[ObservationRead]:
    """The call's record in the order written, each with the observations that correct it; the read is
    audited (it is the patient's medical record)."""
    call = await ensure_visible(session, principal, call_id)
    rows = await repository.observations_of(session, call.id)
    audit.record(session, principal, "call.observations.read", call_id=call.id)
    corrections: dict[uuid.UUID, list[uuid.UUID]] = {}
    for row in rows:
        if row.corrects is not None:
            corrections.setdefault(row.corrects, []).append(row.id)
    return [_observation(row, corrections.get(row.id, [])) for row in rows]


async def callback(
    session: AsyncSession, principal: Principal, call_id: uuid.UUID, data: CallbackIn, *, skew_seconds: int
) -> CallbackAttempt:
    call = await _open_call_for_write(session, principal, call_id)
    at = data.at or now()
    check_not_future(at, "at", skew_seconds)
    check_after_received(call, at, "at")
    attempt = CallbackAttempt(call_id=call.id, at=at, answered=data.answered, by_sub=principal.sub)
    session.add(attempt)
    # The first attempt's time, answered or not, is what the callback delay is measured on.
    if call.first_callback_at is None or at < call.first_callback_at:
        call.first_callback_at = at
    _start(call)
    await session.flush()
    log.info("call.callback", call_id=str(call.id), answered=data.answered)
    return attempt


# What the API says of each decision_misfit: its message and the field at fault.
MISFITS: dict[DecisionMisfit, tuple[str, str]] = {
    "other_needs_reason": ("An `other` decision needs its other_reason", "other_reason"),
    "reason_only_for_other": ("other_reason belongs to `other` decisions only", "other_reason"),
    "pharmacy_only_for_prescription": ("pharmacy belongs to `prescription` decisions only", "pharmacy"),
    "prescribed_only_for_prescription": ("prescribed belongs to `prescription` decisions only", "prescribed"),
}


async def _check_decision(session: AsyncSession, call: Call, data: DecisionCreate) -> None:
    misfit = decision_misfit(data.kind, other_reason=data.other_reason is not None, pharmacy=data.pharmacy is not None,
                             prescribed=data.prescribed is not None)
    if misfit is not None:
        message, field = MISFITS[misfit]
        raise Unprocessable(message, field=field)
    if data.kind != "slot":
        if data.booking_id is not None:
            raise Unprocessable("booking_id belongs to `slot` decisions only", field="booking_id")
        return
    if data.booking_id is None:
        raise Unprocessable("A `slot` decision names the booking made for this call", field="booking_id")
    booking = await repository.booking(session, data.booking_id)
    if booking is None or booking.call_id != call.id:
        raise Unprocessable(f"Booking {data.booking_id} is not a booking of this call", field="booking_id")
    if booking.status != "active":
        raise Unprocessable(f"Booking {data.booking_id} was cancelled", field="booking_id")


async def decide(
    session: AsyncSession, principal: Principal, call_id: uuid.UUID, data: DecisionCreate, *, skew_seconds: int
) -> Decision:
    call = await _open_call_for_write(session, principal, call_id)
    await _check_decision(session, call, data)
    decided_at = data.decided_at or now()
    check_not_future(decided_at, "decided_at", skew_seconds)
    check_after_received(call, decided_at, "decided_at")
    decision = Decision(
        call_id=call.id, kind=data.kind, other_reason=data.other_reason,
        pharmacy_name=data.pharmacy.name if data.pharmacy else None,
        pharmacy_finess=data.pharmacy.finess if data.pharmacy else None,
        prescribed=crypto.ring().seal(data.prescribed, "prescribed"),
        booking_id=data.booking_id, decided_at=decided_at, created_by=principal.sub,
    )
    session.add(decision)
    _start(call)
    await session.flush()
    log.info("call.decision", call_id=str(call.id), kind=data.kind, other_reason=data.other_reason)
    return decision


def decision_read(decision: Decision) -> DecisionRead:
    """A decision as the API shows it: what was prescribed opened."""
    read = DecisionRead.model_validate(decision)
    return read.model_copy(update={"prescribed": crypto.ring().open(decision.prescribed, "prescribed")})


async def revoke(
    session: AsyncSession, principal: Principal, call_id: uuid.UUID, decision_id: uuid.UUID, data: RevokeIn
) -> Decision:
    """Mark a decision of an open call revoked (kept, audited, no longer counted: the statistics' masks are
    recounted by PostgreSQL)."""
    call = await _open_call_for_write(session, principal, call_id)
    decision = await repository.decision(session, decision_id)
    if decision is None or decision.call_id != call.id:
        raise NotFound(f"Decision {decision_id} not found")
    if decision.revoked_at is not None:
        raise Conflict(f"Decision {decision_id} is already revoked")
    if decision.booking_id is not None:
        booking = await repository.booking(session, decision.booking_id)
        if booking is not None and booking.status == "active":
            raise Conflict("This orientation holds an active booking: cancel the booking to undo it",
                           field="decision_id")
    decision.revoked_at = now()
    decision.revoked_by = principal.sub
    decision.revoked_reason = data.reason
    audit.record(session, principal, "decision.revoked", call_id=call.id,
                 detail={"decision_id": str(decision.id), "kind": decision.kind})
    await session.flush()
    log.info("call.decision_revoked", call_id=str(call.id), kind=decision.kind)
    return decision


async def close(session: AsyncSession, principal: Principal, call_id: uuid.UUID) -> CallSummary:
    call = await _open_call_for_write(session, principal, call_id)
    if not await repository.has_decision(session, call.id):
        raise Conflict(f"Call {call_id} has no decision yet: decide before closing")
    call.status = "closed"
    call.closed_at = now()
    audit.record(session, principal, "call.closed", call_id=call.id)
    await session.flush()
    log.info("call.closed", call_id=str(call.id))
    return await summary(session, call.id)


async def purge(session: AsyncSession, principal: Principal | None, *, days: int, record_days: int) -> PurgeResult:
    """Empty names, phone, postcode and reason of calls received more than ``days`` ago, and what
    their booking events copied (initials, birth year, sex, reason); and the text of the regulation's
    observations written more than ``record_days`` ago (the medical record keeps its own retention)."""
    cutoff = now() - dt.timedelta(days=days)
    count = await repository.purge_identity(session, cutoff)
    # What other tables copied of these patients goes too: the effectors' booking events.
    events = await outbox.purge_booking_events(session, cutoff)
    await reports.purge(session, cutoff)  # the visits' reports to the médecins traitants, and their traits
    observations = await repository.purge_observations(session, now() - dt.timedelta(days=record_days))
    audit.record(session, principal, "calls.purge", detail={"purged": count, "events": events, "days": days,
                                                             "cutoff": cutoff.isoformat(),
                                                             "observations": observations, "record_days": record_days})
    await session.flush()
    log.info("calls.purged", purged=count, events=events, days=days, observations=observations)
    return PurgeResult(purged=count, days=days, cutoff=cutoff, observations_purged=observations)
