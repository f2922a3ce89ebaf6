"""The simulator is a development tool (it mints tokens with the development secret): the installed
package, hence the production image, carries none of it, and ``snp`` says where its commands went."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import setuptools

from tests.support.command_line import snp

ROOT = Path(__file__).resolve().parents[2]


class TestTheSimulatorStaysInTheRepository:
    def test_the_installed_package_has_no_simulator(self) -> None:
        found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
        packages = setuptools.find_packages(where=str(ROOT), include=found["include"])
        assert "app" in packages
        assert [name for name in packages if "simulator" in name or name.split(".")[0] != "app"] == []

    def test_the_image_copies_app_alone_of_the_code(self) -> None:
        copied = [line.split()[-2] for line in (ROOT / "Dockerfile").read_text().splitlines()
                  if line.startswith("COPY") and "--from" not in line]
        assert "tools" not in copied and "." not in copied, copied

    def test_snp_says_where_the_simulators_commands_went(
        self, database_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        for name in ("simulate", "seed", "demo"):
            result = snp(database_url, monkeypatch, name, "--profile", "indre")
            assert result.exit_code == 2 and "python -m tools.simulator" in result.output, result.output
        assert "simulate" not in snp(database_url, monkeypatch, "--help").output
