"""One row of an import of past calls, checked by a pydantic model built on the call schemas' own types.

The row model (ImportRow) takes a row as the file gives it (CSV: every cell a string; NDJSON: any JSON value)
and checks it with the types the API checks a call with (schemas.Channel, Priority, Intent, Sex, BirthYear,
the Postcode of app/reference, the decision kinds, other reasons and decision rules). What only a file needs
is said here: a cell is trimmed and empty means absent, numbers are accepted where a code is expected, an
instant is an ISO 8601 date-time with its offset, decisions may be written ``advice|other:no_answer``.

A rejected row is reported as one problem (its field and its reason, the first in ImportRow's order), in the
words the import has always used; ``check`` is called once a row, with ROW, a TypeAdapter built once.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, get_args

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    with_config,
)
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict

from app.calls.models import DECISION_KINDS, OTHER_REASONS
from app.calls.schemas import (
    EARLIEST,
    BirthYear,
    Channel,
    DecisionMisfit,
    Intent,
    Priority,
    Sex,
    decision_misfit,
    no_nul,
)
from app.reference.identifiers import FINESS_PATTERN, Postcode, finess_key_ok

COLUMNS = (
    "external_id", "territory_code", "channel", "received_at", "priority", "intent_without_sas",
    "first_callback_at", "closed_at", "decisions", "patient_postcode", "patient_birth_year", "patient_sex",
)
IDENTITY = frozenset(
    ("patient_family_name", "patient_given_name", "patient_phone", "family_name", "given_name", "phone")
)
KNOWN = frozenset(COLUMNS)
DECISION_KEYS = ("kind", "other_reason", "pharmacy_name", "pharmacy_finess")
FINESS_RE = re.compile(FINESS_PATTERN)
UNKNOWN_INTENT: Intent = "inconnu"

Decision = tuple[str, str | None, str | None, str | None]  # kind, other_reason, pharmacy_name, pharmacy_finess


class RowError(Exception):
    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _problem(reason: str, field: str | None = None) -> PydanticCustomError:
    """A problem of a row; ``field``: the column at fault, or the key of a decision object (else: where raised)."""
    # The reason goes in the context, never in the template: it may quote the file, braces included.
    return PydanticCustomError("import_row", "{reason}", {"reason": reason, "field": field})


# --- a cell ----------------------------------------------------------------------------------------


def _clean(
    value: Any, required: bool, max_len: int, numeric: bool, key: str | None = None, empty: str | None = None
) -> str | None:
    """A cell's text, trimmed; ``empty`` when there is none. ``numeric``: a JSON number stands for its digits
    (a code); ``key``: the key of a decision object read."""
    if numeric and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is not None and not isinstance(value, str):
        raise _problem("must be a string", key)
    value = value.strip() if value else None
    if value:
        try:
            no_nul(value)
        except ValueError as exc:
            raise _problem(str(exc), key) from exc
    if not value:
        if required:
            raise _problem("required", key)
        return empty
    if len(value) > max_len:
        raise _problem(f"longer than {max_len} characters", key)
    return value


class Unreadable:
    """A cell that cannot be read as text (or a birth year): it stands in the row for its value, its field's type
    refuses it, and its reason is the one reported."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


# How each column other than the instants and the decisions is read before its type checks it (in one call a
# row, ImportRow._cells): required, longest, a JSON number taken for its digits, its value when empty.
CELLS: dict[str, tuple[bool, int, bool, str | None]] = {
    "patient_postcode": (False, 5, True, None),
    "external_id": (True, 200, True, None),
    "territory_code": (True, 40, True, None),
    "channel": (True, 200, False, None),
    "priority": (False, 200, False, None),
    "intent_without_sas": (False, 200, False, UNKNOWN_INTENT),
    "patient_sex": (False, 200, False, None),
}


def _instant(value: Any, limit: dt.datetime, *, required: bool = False) -> dt.datetime | None:
    """An ISO 8601 date-time with its UTC offset, neither after ``limit`` nor before EARLIEST."""
    text = _clean(value, required, 64, False)
    if text is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise _problem(f"{text!r} is not an ISO 8601 date-time") from exc
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise _problem("must carry a UTC offset (e.g. 2022-03-01T18:00:00+01:00)")
    if parsed > limit:
        raise _problem("lies in the future")
    if parsed < EARLIEST:
        raise _problem(f"before {EARLIEST.year}")
    return parsed


def _year(value: Any) -> Any:
    """A birth year as a file writes it: a number, or its digits in a string; blank means none."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool | float):
        return Unreadable("not a year")
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return Unreadable("not a year")
    return value


# --- the decisions ---------------------------------------------------------------------------------


# What the import says of each decision_misfit (the field is always ``decisions``).
MISFITS: dict[DecisionMisfit, Callable[[str, str | None], str]] = {
    "other_needs_reason": lambda kind, reason: "an other decision needs its reason (other:no_answer ...)",
    "reason_only_for_other": lambda kind, reason: f"a reason belongs to other decisions only (got {kind}:{reason})",
    "pharmacy_only_for_prescription": lambda kind, reason: "a pharmacy belongs to prescription decisions only",
    "prescribed_only_for_prescription": lambda kind, reason: "what was prescribed belongs to prescriptions only",
}


def _decision(kind: str, reason: str | None, name: str | None, finess: str | None) -> Decision:
    misfit = decision_misfit(kind, other_reason=reason is not None, pharmacy=bool(name or finess))
    if misfit in ("other_needs_reason", "reason_only_for_other"):
        raise _problem(MISFITS[misfit](kind, reason))
    if reason is not None and reason not in OTHER_REASONS:
        raise _problem(f"{reason!r} is not an other reason ({', '.join(OTHER_REASONS)})")
    if misfit is not None:
        raise _problem(MISFITS[misfit](kind, reason))
    if finess is not None and not (FINESS_RE.fullmatch(finess) and finess_key_ok(finess)):
        raise _problem(f"{finess!r} is not a FINESS number (9 characters, Luhn key last)")
    return (kind, reason, name, finess)


def _decision_token(token: str) -> Decision:
    kind, colon, reason = token.strip().partition(":")
    if colon and not reason:
        raise _problem(f"{token.strip()!r} has an empty reason after ':'")
    if kind not in DECISION_KINDS:
        raise _problem(f"{kind!r} is not a decision kind ({', '.join(DECISION_KINDS)})")
    return _decision(kind, reason or None, None, None)


def _decision_object(item: Any) -> Decision:
    if not isinstance(item, dict):
        raise _problem("each decision is an object with a kind")
    unknown = set(item) - set(DECISION_KEYS)
    if unknown:
        raise _problem(f"unknown decision field {sorted(unknown)[0]!r}")
    kind = _clean(item.get("kind"), True, 200, False, "kind")
    if kind not in DECISION_KINDS:
        raise _problem(f"{kind!r} is not one of {', '.join(DECISION_KINDS)}", "kind")
    reason, name, finess = (_clean(item.get(key), False, 200, False, key)
                            for key in ("other_reason", "pharmacy_name", "pharmacy_finess"))
    return _decision(kind, reason, name, finess)


def _decisions(value: Any) -> list[Decision]:
    """``advice|other:no_answer``, or a list of objects (kind, other_reason, pharmacy_name, pharmacy_finess)."""
    if isinstance(value, str):
        decisions = [_decision_token(t) for t in value.split("|") if t.strip()]
    elif isinstance(value, list):
        decisions = [_decision_object(item) for item in value]
    elif value is None:
        decisions = []
    else:
        raise _problem("a string such as advice|prescription, or a list of objects")
    if not decisions:
        raise _problem("at least one decision is required")
    return decisions


# --- the row ---------------------------------------------------------------------------------------


@with_config(ConfigDict(extra="forbid"))
class ImportRow(TypedDict):
    """A row of the file, its keys the file's columns (the names of Row on the right). What is reported of a rejected
    row is the first of: an unknown column, the instants and their order (_cells), the keys below in their order."""

    received_at: dt.datetime
    first_callback_at: dt.datetime | None
    closed_at: dt.datetime
    postcode: Annotated[Postcode | None, Field(alias="patient_postcode")]
    external_id: str
    territory_code: str
    channel: Channel
    priority: Priority | None
    intent: Annotated[Intent, Field(alias="intent_without_sas")]
    birth_year: Annotated[BirthYear | None, Field(alias="patient_birth_year")]
    sex: Annotated[Sex | None, Field(alias="patient_sex")]
    decisions: Annotated[list[Decision], PlainValidator(_decisions)]


def _cells(fields: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
    """The row as ImportRow's types check it, in one call a row: unknown columns refused first, then the instants
    (the latest a row may hold is in the context; closed_at defaults to the first callback, else to the reception),
    the other cells read as text (CELLS), one that cannot be read replaced by its problem."""
    for name in () if KNOWN.issuperset(fields) else sorted(fields.keys() - KNOWN):
        raise _problem("patient names and phones are never imported" if name in IDENTITY else "unknown field", name)
    limit: dt.datetime = info.context["future_limit"]  # type: ignore[index]
    received_at = _at(fields, "received_at", limit, required=True)
    first_callback_at = _at(fields, "first_callback_at", limit)
    closed_at = _at(fields, "closed_at", limit)
    assert received_at is not None
    if first_callback_at is not None and first_callback_at < received_at:
        raise _problem("before received_at", "first_callback_at")
    if closed_at is not None and closed_at < received_at:
        raise _problem("before received_at", "closed_at")
    cells = {"received_at": received_at, "first_callback_at": first_callback_at,
             "closed_at": closed_at or first_callback_at or received_at,
             "patient_birth_year": _year(fields.get("patient_birth_year")), "decisions": fields.get("decisions")}
    for name, (required, max_len, numeric, empty) in CELLS.items():
        try:
            cells[name] = _clean(fields.get(name), required, max_len, numeric, None, empty)
        except PydanticCustomError as exc:
            cells[name] = Unreadable(str(exc.context["reason"]))  # type: ignore[index]
    return cells


def _at(fields: dict[str, Any], name: str, limit: dt.datetime, *, required: bool = False) -> dt.datetime | None:
    try:
        return _instant(fields.get(name), limit, required=required)
    except PydanticCustomError as exc:
        raise _problem(str(exc.context["reason"]), name) from None  # type: ignore[index]


ROW: TypeAdapter[ImportRow] = TypeAdapter(Annotated[ImportRow, BeforeValidator(_cells)])
CHOICES = {"channel": get_args(Channel), "priority": get_args(Priority), "intent_without_sas": get_args(Intent),
           "patient_sex": get_args(Sex)}


@dataclass
class Row:
    """A valid row, with its number in the file."""

    number: int
    received_at: dt.datetime
    first_callback_at: dt.datetime | None
    closed_at: dt.datetime
    postcode: str | None
    external_id: str
    territory_code: str
    channel: str
    priority: str | None
    intent: str
    birth_year: int | None
    sex: str | None
    decisions: list[Decision] = field(default_factory=list)


def context(future_limit: dt.datetime) -> dict[str, Any]:
    """What ``check`` is given for every row of a file: the latest instant a row may hold."""
    return {"future_limit": future_limit}


def check(number: int, fields: dict[str, Any], context: dict[str, Any]) -> Row:
    """The row, or RowError naming its first problem; ``context``: context(...), made once a file."""
    if "__error__" in fields:
        raise RowError(None, fields["__error__"])
    try:
        row = ROW.validate_python(fields, context=context)
    except ValidationError as exc:
        name, reason = _first_problem(exc, fields)
        raise RowError(name, reason) from None
    return Row(number, **row)


def _first_problem(exc: ValidationError, fields: dict[str, Any]) -> tuple[str, str]:
    error = exc.errors(include_url=False)[0]
    name = str(error["ctx"]["field"] if error["type"] == "import_row" and error["ctx"]["field"] else error["loc"][0])
    return name, _reason(error, name, fields)


def _reason(error: Any, name: str, fields: dict[str, Any]) -> str:
    kind = error["type"]
    if name == "patient_birth_year":
        return f"{fields.get(name)!r} is not a birth year"
    if isinstance(error["input"], Unreadable):
        return error["input"].reason
    if kind == "import_row":
        return str(error["ctx"]["reason"])
    if kind == "missing":
        return "required"
    if kind == "literal_error":
        return f"{error['input']!r} is not one of {', '.join(CHOICES[name])}"
    if kind == "string_pattern_mismatch" and name == "patient_postcode":
        return f"{error['input']!r} is not a 5-digit postcode"
    return str(error["msg"])
