"""Running a command line in the test process, against the tests' database: ``snp``, and the simulator's
(``python -m tools.simulator``)."""

from __future__ import annotations

import pytest
import typer
from click.testing import Result
from typer.testing import CliRunner


def snp(database_url: str, monkeypatch: pytest.MonkeyPatch, *args: str, **env: str) -> Result:
    """``snp *args`` with SNP_DATABASE_URL (and ``env``) set, settings read afresh before and after."""
    from app.cli import app

    return invoke(app, database_url, monkeypatch, *args, **env)


def simulator(database_url: str, monkeypatch: pytest.MonkeyPatch, *args: str, **env: str) -> Result:
    """``python -m tools.simulator *args``, set up as :func:`snp` is."""
    from tools.simulator.cli import app

    return invoke(app, database_url, monkeypatch, *args, **env)


def invoke(app: typer.Typer, database_url: str, monkeypatch: pytest.MonkeyPatch, *args: str, **env: str) -> Result:
    from app.platform.config import get_settings

    monkeypatch.setenv("SNP_DATABASE_URL", database_url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, list(args))
    finally:
        get_settings.cache_clear()
