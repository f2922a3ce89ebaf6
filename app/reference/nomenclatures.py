"""The ANS nomenclatures the service speaks (README.md): professions (TRE-G15) and ordinal
specialties (TRE-R38), read once from the vendored files."""

from __future__ import annotations

import csv
import io
from functools import cache
from importlib import resources

# Deprecated in the published CodeSystems (kept in the files as published; refused for new records).
DEPRECATED = {
    "G15": frozenset({"35", "36", "37", "38", "39", "93"}),
    "R38": frozenset({"SP01", "SP02", "SP03", "SP04"}),
}
FILES = {"G15": "tre-g15-profession-sante.csv", "R38": "tre-r38-specialite-ordinale.csv"}
MEDECIN = "10"
MEDECINE_GENERALE = "SM54"


@cache
def labels(system: str) -> dict[str, str]:
    """code → label of the nomenclature ``G15`` or ``R38``."""
    text = (resources.files("app") / "reference" / FILES[system]).read_text(encoding="utf-8")
    return {row["code"]: row["label"] for row in csv.DictReader(io.StringIO(text), delimiter=";")}


def check(system: str, code: str) -> str:
    """The code if it is a current code of the nomenclature; ValueError saying why not."""
    if code not in labels(system):
        raise ValueError(f"{code!r} is not a code of TRE-{system}")
    if code in DEPRECATED[system]:
        raise ValueError(f"{code!r} is deprecated in TRE-{system}")
    return code
