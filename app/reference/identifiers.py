"""French identifiers: RPPS (Luhn key), ADELI, FINESS, postcodes, phone numbers."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def luhn_key(body: str) -> str:
    """The check digit that makes ``body + key`` pass Luhn (used to build valid RPPS in tests)."""
    for key in "0123456789":
        if luhn_ok(body + key):
            return key
    raise AssertionError("unreachable")


def _rpps(value: str) -> str:
    if not re.fullmatch(r"[0-9]{11}", value):
        raise ValueError("RPPS must be exactly 11 digits")
    if not luhn_ok(value):
        raise ValueError("RPPS check digit (Luhn key, 11th digit) is wrong")
    return value


# An ADELI number: 9 characters, the département of registration (2A or 2B in Corsica), the profession,
# the order of registration and a key. Its key's computation is not published by the ANS (the guide
# only prefixes the number with 0 in the national id): the format is checked, never the key, so that a
# real professional is never refused.
ADELI_PATTERN = r"(?:[0-9]{2}|2[AB])[0-9]{7}"


def _adeli(value: str) -> str:
    if not re.fullmatch(ADELI_PATTERN, value):
        raise ValueError("ADELI must be 9 characters: the département (2A or 2B for Corsica), then 7 digits")
    return value


def _finess(value: str) -> str:
    if not re.fullmatch(FINESS_PATTERN, value):
        raise ValueError("FINESS must be 9 characters (département code, 2A or 2B for Corsica, then 7 digits)")
    if not finess_key_ok(value):
        raise ValueError("FINESS check digit (Luhn key, 9th character) is wrong")
    return value


def finess_key_ok(value: str) -> bool:
    """The 9th character of a FINESS number is a Luhn key over the nine. Corsica's numbers (2A, 2B) are
    not checked: how their letter enters the key is not published, and a real pharmacy must never be
    refused."""
    return not value.isdigit() or luhn_ok(value)


FINESS_PATTERN = r"(?:[0-9]{2}|2[AB])[0-9]{7}"


def _phone(value: str) -> str:
    compact = re.sub(r"[\s.\-()]", "", value)
    if not re.fullmatch(r"\+?[0-9]{6,19}", compact):
        raise ValueError("a phone number is 6 to 19 digits, optionally after a leading +")
    return compact


# What _phone accepts, for the contract: 6 to 19 digits, optionally after a +, separators anywhere. One rule
# for every phone: a patient's, a practitioner's, a site's; stored without its separators.
PHONE_PATTERN = r"^[\s.()-]*\+?(?:[\s.()-]*[0-9]){6,19}[\s.()-]*$"
Phone = Annotated[str, AfterValidator(_phone), Field(examples=["0254000000"],
                                                     json_schema_extra={"pattern": PHONE_PATTERN})]
RPPS = Annotated[str, AfterValidator(_rpps), Field(examples=["10000000009"])]
FINESS = Annotated[str, AfterValidator(_finess), Field(examples=["360000012"])]
ADELI = Annotated[str, AfterValidator(_adeli), Field(examples=["361012345"],
                                                     json_schema_extra={"pattern": f"^{ADELI_PATTERN}$"})]
Postcode = Annotated[str, Field(pattern=r"^[0-9]{5}$", examples=["36000"])]
InseeCode = Annotated[str, Field(pattern=r"^[0-9][0-9AB][0-9]{3}$", examples=["36044"])]
