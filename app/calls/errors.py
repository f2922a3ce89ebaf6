"""The calls domain's refusals."""

from __future__ import annotations

from app.platform.errors import Conflict, Unprocessable


class ImportRejected(Unprocessable):
    """Some rows of an import are invalid: nothing was written."""


class CallHeld(Conflict):
    """Someone else has the call: taking it over must be said (``take_over: true``)."""
