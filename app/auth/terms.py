"""Our terms of use (CGU), which a regulator the national platform registered accepts at his first sign-in
(the guide: "Lors de la première connexion ... valider individuellement les conditions contractuelles de
l'éditeur"). Their version is a digest of their text: a changed text is presented, and accepted, again.
The text ships in French beside this module; a deployment gives its own with ``SNP_TERMS_FILE``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

DEFAULT = Path(__file__).resolve().parent / "terms_fr.md"


@dataclass(frozen=True)
class Terms:
    version: str
    text: str


_current: Terms | None = None


def use(path: Path | str | None) -> Terms:
    """Read the terms from ``path`` (ours without one): from then on, the current terms."""
    global _current
    text = Path(path or DEFAULT).read_text(encoding="utf-8")
    _current = Terms(version=hashlib.sha256(text.encode()).hexdigest()[:16], text=text)
    return _current


def current() -> Terms:
    return _current or use(None)


def version() -> str:
    return current().version
