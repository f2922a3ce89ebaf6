"""Sealing a call's patient identity (app/identity/crypto.py) where it is written, opening it where it is read,
and sealing again every row under the current key (the migration that introduced sealing, and
``snp keys rotate``)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, text

from app.identity import crypto
from app.identity.crypto import Keyring

# Patient fields (as the API names them) → the column that holds them (the associated data of the seal).
FIELDS = {"family_name": "patient_family_name", "given_name": "patient_given_name", "phone": "patient_phone",
          "address": "patient_address", "email": "patient_email"}
BATCH = 500


def sealed_columns(ring: Keyring, *, family_name: str | None = None, given_name: str | None = None,
                   phone: str | None = None, address: str | None = None, reason: str | None = None,
                   email: str | None = None) -> dict[str, Any]:
    """A call's identity columns as they are stored: sealed, with the hashes that find it."""
    return {
        "patient_email": ring.seal(email, "patient_email"),
        "patient_family_name": ring.seal(family_name, "patient_family_name"),
        "patient_given_name": ring.seal(given_name, "patient_given_name"),
        "patient_phone": ring.seal(phone, "patient_phone"),
        "patient_address": ring.seal(address, "patient_address"),
        "reason": ring.seal(reason, "reason"),
        "patient_name_hashes": ring.name_hashes(family_name, given_name) or None,
        "patient_phone_hashes": ring.phone_hashes(phone) or None,
    }


def opened(ring: Keyring, call: Any) -> dict[str, str | None]:
    """The identity of a call row (an ORM Call or a mapping with the columns), opened."""
    get = (lambda name: call.get(name)) if isinstance(call, dict) else (lambda name: getattr(call, name))
    out: dict[str, str | None] = {field: ring.open(get(column), column) for field, column in FIELDS.items()}
    out["reason"] = ring.open(get("reason"), "reason")
    return out


def seal_json(ring: Keyring, value: dict[str, Any] | None, column: str) -> str | None:
    """A small record (the call's médecin traitant, a report's identity traits) sealed as one text."""
    return None if value is None else ring.seal(json.dumps(value, ensure_ascii=False, sort_keys=True), column)


def open_json(ring: Keyring, value: str | None, column: str) -> dict[str, Any] | None:
    opened_ = ring.open(value, column)
    return None if opened_ is None else dict(json.loads(opened_))


def initials(given_name: str | None, family_name: str | None) -> str | None:
    letters = "".join(name.strip()[0] for name in (given_name, family_name) if name and name.strip())
    return letters.upper() or None


def present(ring: Keyring, payload: dict[str, Any]) -> dict[str, Any]:
    """A booking event as the effector reads it: of the patient what he needs to see him — initials,
    birth year, age and sex always; for a home visit also the name, address and phone; for a
    teleconsultation the phone — opened from the sealed copy the event keeps."""
    out = dict(payload)
    call = payload.get("call")
    if isinstance(call, dict) and call.get("reason") is not None:
        out["call"] = {**call, "reason": ring.open(call["reason"], "reason")}
    patient = payload.get("patient")
    if not isinstance(patient, dict):
        return out
    identity = {field: ring.open(patient.get(field), column) for field, column in FIELDS.items()}
    mode = payload.get("mode")
    view = {k: patient[k] for k in ("birth_year", "sex", "age") if patient.get(k) is not None}
    short = patient.get("initials") or initials(identity["given_name"], identity["family_name"])
    if short:
        view["initials"] = short
    shown = {"home_visit": ("family_name", "given_name", "address", "phone"), "teleconsultation": ("phone",)}
    for field in shown.get(str(mode), ()):
        if identity[field] is not None:
            view[field] = identity[field]
    out["patient"] = view
    return out


# --------------------------------------------------------------------------- every row, under one key


def seal_all(connection: Connection, ring: Keyring) -> dict[str, int]:
    """Seal under the current key every call identity and booking event copy that is not (plaintext
    rows, or rows sealed with an older key); recompute the hashes. Batched; returns what changed."""
    current = f"{crypto.PREFIX}{ring.current}.%"
    changed = {"calls": 0, "events": 0, "observations": 0, "prescriptions": 0, "emails": 0}
    last = "00000000-0000-0000-0000-000000000000"
    while True:
        rows = connection.execute(text("""
            SELECT id, patient_family_name, patient_given_name, patient_phone, patient_address, reason
            FROM calls
            WHERE id > CAST(:last AS uuid) AND (
                  (patient_family_name IS NOT NULL AND patient_family_name NOT LIKE :current)
               OR (patient_given_name IS NOT NULL AND patient_given_name NOT LIKE :current)
               OR (patient_phone IS NOT NULL AND patient_phone NOT LIKE :current)
               OR (patient_address IS NOT NULL AND patient_address NOT LIKE :current)
               OR (reason IS NOT NULL AND reason NOT LIKE :current))
            ORDER BY id LIMIT :n"""), {"last": last, "current": current, "n": BATCH}).mappings().all()
        if not rows:
            break
        for row in rows:
            identity = opened(ring, dict(row))
            identity.pop("email", None)  # sealed again by _seal_emails (the column came after sealing did)
            connection.execute(text("""
                UPDATE calls SET patient_family_name = :patient_family_name,
                    patient_given_name = :patient_given_name, patient_phone = :patient_phone,
                    patient_address = :patient_address, reason = :reason,
                    patient_name_hashes = :patient_name_hashes, patient_phone_hashes = :patient_phone_hashes
                WHERE id = :id"""), {"id": row["id"], **sealed_columns(ring, **identity)})
        changed["calls"] += len(rows)
        last = str(rows[-1]["id"])
    changed["events"] = _seal_events(connection, ring)
    changed["observations"] = _seal_observations(connection, ring, current)
    changed["prescriptions"] = _seal_prescribed(connection, ring, current)
    changed["emails"] = _seal_emails(connection, ring, current)
    for table, column in RESEALED:
        changed[f"{table}.{column}"] = _reseal_column(connection, ring, current, table, column)
    return changed


# Sealed columns that came later, each sealed with its own name as the seal's associated data.
RESEALED = (("calls", "general_practitioner"), ("gp_reports", "report"), ("gp_reports", "traits"))


def _reseal_column(connection: Connection, ring: Keyring, current: str, table: str, column: str) -> int:
    """One sealed column under the current key (none when the column does not exist yet: a migration before it)."""
    exists = connection.execute(text(
        "SELECT 1 FROM information_schema.columns WHERE table_name = :t AND column_name = :c"),
        {"t": table, "c": column})
    if exists.scalar() is None:
        return 0
    rows = connection.execute(text(f'SELECT id, "{column}" AS v FROM "{table}" WHERE "{column}" IS NOT NULL '
                                   f'AND "{column}" NOT LIKE :current'), {"current": current}).mappings().all()
    for row in rows:
        connection.execute(text(f'UPDATE "{table}" SET "{column}" = :v WHERE id = :id'),
                           {"id": row["id"], "v": ring.seal(ring.open(row["v"], column), column)})
    return len(rows)


def _seal_emails(connection: Connection, ring: Keyring, current: str) -> int:
    """The patients' e-mail addresses, under the current key (the column came after sealing did)."""
    exists = connection.execute(text(
        "SELECT 1 FROM information_schema.columns WHERE table_name = 'calls' AND column_name = 'patient_email'"))
    if exists.scalar() is None:
        return 0
    rows = connection.execute(text("SELECT id, patient_email FROM calls WHERE patient_email IS NOT NULL "
                                   "AND patient_email NOT LIKE :current"), {"current": current}).mappings().all()
    for row in rows:
        value = ring.open(row["patient_email"], "patient_email")
        connection.execute(text("UPDATE calls SET patient_email = :e WHERE id = :id"),
                           {"id": row["id"], "e": ring.seal(value, "patient_email")})
    return len(rows)


def _seal_prescribed(connection: Connection, ring: Keyring, current: str) -> int:
    """What prescription decisions prescribed, under the current key (the column came after sealing did)."""
    exists = connection.execute(text(
        "SELECT 1 FROM information_schema.columns WHERE table_name = 'decisions' AND column_name = 'prescribed'"))
    if exists.scalar() is None:
        return 0
    rows = connection.execute(text("SELECT id, prescribed FROM decisions WHERE prescribed IS NOT NULL "
                                   "AND prescribed NOT LIKE :current"), {"current": current}).mappings().all()
    for row in rows:
        connection.execute(text("UPDATE decisions SET prescribed = :p WHERE id = :id"),
                           {"id": row["id"], "p": ring.seal(ring.open(row["prescribed"], "prescribed"), "prescribed")})
    return len(rows)


def _seal_observations(connection: Connection, ring: Keyring, current: str) -> int:
    """The regulation's observations (their text sealed as the reason is), under the current key. The
    migration that first sealed identities runs this code before the observations' table exists."""
    if connection.execute(text("SELECT to_regclass('call_observations')")).scalar() is None:
        return 0
    count, last = 0, "00000000-0000-0000-0000-000000000000"
    while True:
        rows = connection.execute(text("""
            SELECT id, text FROM call_observations
            WHERE id > CAST(:last AS uuid) AND text IS NOT NULL AND text NOT LIKE :current
            ORDER BY id LIMIT :n"""), {"last": last, "current": current, "n": BATCH}).mappings().all()
        if not rows:
            return count
        for row in rows:
            resealed = ring.seal(ring.open(row["text"], "observation"), "observation")
            connection.execute(text("UPDATE call_observations SET text = :text WHERE id = :id"),
                               {"id": row["id"], "text": resealed})
        count += len(rows)
        last = str(rows[-1]["id"])


def _seal_events(connection: Connection, ring: Keyring) -> int:
    count, last = 0, 0
    while True:
        rows = connection.execute(text("""
            SELECT seq, payload FROM outbox_events
            WHERE seq > :last AND (payload ? 'patient' OR payload -> 'call' ? 'reason')
            ORDER BY seq LIMIT :n"""), {"last": last, "n": BATCH}).mappings().all()
        if not rows:
            return count
        for row in rows:
            payload = row["payload"]
            resealed = _reseal_payload(ring, payload)
            if resealed != payload:
                connection.execute(text("UPDATE outbox_events SET payload = CAST(:p AS jsonb) WHERE seq = :seq"),
                                   {"p": json.dumps(resealed), "seq": row["seq"]})
                count += 1
        last = rows[-1]["seq"]


def _reseal_payload(ring: Keyring, payload: dict[str, Any]) -> dict[str, Any]:
    out = dict(payload)
    call = payload.get("call")
    if isinstance(call, dict) and call.get("reason") is not None:
        reason = ring.open(call["reason"], "reason")
        if ring.key_of(call["reason"]) != ring.current:
            out["call"] = {**call, "reason": ring.seal(reason, "reason")}
    patient = payload.get("patient")
    if isinstance(patient, dict):
        fresh = dict(patient)
        for field, column in FIELDS.items():
            value = patient.get(field)
            if value is not None and ring.key_of(value) != ring.current:
                fresh[field] = ring.seal(ring.open(value, column), column)
        out["patient"] = fresh
    return out


def open_all(connection: Connection, ring: Keyring) -> None:
    """Back to plaintext (the migration's downgrade)."""
    rows = connection.execute(text("SELECT id, patient_family_name, patient_given_name, patient_phone, "
                                   "patient_address, reason FROM calls")).mappings().all()
    for row in rows:
        identity = opened(ring, dict(row))
        identity.pop("email", None)
        connection.execute(text("UPDATE calls SET patient_family_name = :family_name, "
                                "patient_given_name = :given_name, patient_phone = :phone, "
                                "patient_address = :address, reason = :reason WHERE id = :id"),
                           {"id": row["id"], **identity})


