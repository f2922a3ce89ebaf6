"""The calls domain's refusals."""

from __future__ import annotations

from app.platform.errors import Unprocessable


class ImportRejected(Unprocessable):
    """Some rows of an import are invalid: nothing was written."""
