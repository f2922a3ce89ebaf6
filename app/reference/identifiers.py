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


# The French numbering plan's mobile ranges (ARCEP): 06 and 07 in metropolitan France, and the ranges of the
# overseas départements, which are French numbers dialled with their own country code. A number is
# normalised by its range, whichever territory the call came to: a Réunion mobile (0692…) stays +262 in an
# Indre call. Longest prefix first.
OVERSEAS_MOBILES = (("0690", "590"), ("0691", "590"), ("0694", "594"), ("0696", "596"), ("0697", "596"),
                    ("0692", "262"), ("0693", "262"), ("0639", "262"))
# The country codes whose national numbers follow the French plan, and their mobile ranges (after the 0).
_PLAN = {"33": ("6", "7"), "590": ("690", "691"), "594": ("694",), "596": ("696", "697"),
         "262": ("692", "693", "639")}


def mobile_e164(phone: str | None) -> str | None:
    """The phone as an E.164 mobile number (+33612345678, +262692123456), or None when it is no French mobile
    (a landline, a foreign or a short number): only a mobile receives an SMS."""
    if not phone:
        return None
    compact = re.sub(r"[\s.\-()]", "", phone)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if compact.startswith("+"):
        digits = compact[1:]
        for code, ranges in _PLAN.items():
            if digits.startswith(code) and len(digits) == len(code) + 9:
                national = digits[len(code):]
                return compact if national.startswith(ranges) else None
        return None
    if not re.fullmatch(r"0[0-9]{9}", compact):
        return None
    for prefix, code in OVERSEAS_MOBILES:
        if compact.startswith(prefix):
            return f"+{code}{compact[1:]}"
    return f"+33{compact[1:]}" if compact[1] in "67" else None


# A secure-messaging (MSSanté) address: every mailbox of the MSSanté trust space is under mssante.fr (an
# operator's domain such as medecin.mssante.fr, or an establishment's ch-exemple.mssante.fr); an ordinary
# address is not one and could not receive the report.
MSSANTE_PATTERN = r"^[A-Za-z0-9._%+'-]+@([A-Za-z0-9-]+\.)+mssante\.fr$"
MssanteAddress = Annotated[str, Field(max_length=200, pattern=MSSANTE_PATTERN,
                                      examples=["jean.martin@medecin.mssante.fr"],
                                      description="a secure-messaging (MSSanté) address, under mssante.fr")]
