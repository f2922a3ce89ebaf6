"""Running the ``snp`` command line in the test process, against the tests' database."""

from __future__ import annotations

import pytest
from click.testing import Result
from typer.testing import CliRunner


def snp(database_url: str, monkeypatch: pytest.MonkeyPatch, *args: str, **env: str) -> Result:
    """``snp *args`` with SNP_DATABASE_URL (and ``env``) set, settings read afresh before and after."""
    from app.cli import app
    from app.platform.config import get_settings

    monkeypatch.setenv("SNP_DATABASE_URL", database_url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, list(args))
    finally:
        get_settings.cache_clear()
