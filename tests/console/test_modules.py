"""The console's ES modules: each small, each served as JavaScript under the strict policy, each import
resolved, each API path real; and the pure ones (time zones, French, the live stream's reconnection)
pass their node tests (tests/console/js/)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from app.console.router import STATIC
from app.openapi_export import render

ROOT = Path(__file__).resolve().parents[2]
NODE_TESTS = Path(__file__).resolve().parent / "js"
NODE = shutil.which("node") or shutil.which("nodejs")
# Libraries copied in whole (with their licence) are not ours to keep short.
OURS = sorted(p for p in STATIC.rglob("*.js") if "vendor" not in p.relative_to(STATIC).parts)
IMPORT = re.compile(r"""^\s*(?:import\s+(?:[\w*{}\s,$]+\s+from\s+)?|export\s+[\w*{}\s,$]+\s+from\s+)["']([^"']+)["']""",
                    re.MULTILINE)


def _asset(path: Path) -> str:
    return "/console/" + path.relative_to(STATIC).as_posix()


class TestEachModule:
    def test_no_script_of_ours_is_over_300_lines(self) -> None:
        assert OURS, "the console has scripts"
        long = {_asset(p): n for p in OURS if (n := len(p.read_text().splitlines())) > 300}
        assert not long, long

    async def test_each_is_served_as_javascript_under_the_console_policy(self, client: httpx.AsyncClient) -> None:
        for path in OURS:
            response = await client.get(_asset(path))
            assert response.status_code == 200, path
            assert response.headers["content-type"].startswith("text/javascript"), path
            assert "script-src 'self'" in response.headers["content-security-policy"], path

    async def test_each_relative_import_is_a_served_module(self, client: httpx.AsyncClient) -> None:
        imported = 0
        for path in OURS:
            for target in IMPORT.findall(path.read_text()):
                assert target.startswith("./") or target.startswith("../"), (path, target)  # no bare name to resolve
                resolved = (path.parent / target).resolve()
                assert resolved.is_relative_to(STATIC), (path, target)
                assert (await client.get(_asset(resolved))).status_code == 200, (path, target)
                imported += 1
        assert imported, "the entry imports the views"

    def test_each_is_loaded_from_the_entry(self) -> None:
        reached, todo = set(), [STATIC / "console.js"]
        while todo:
            path = todo.pop()
            if path not in reached:
                reached.add(path)
                todo += [(path.parent / t).resolve() for t in IMPORT.findall(path.read_text())]
        assert sorted(reached) == OURS  # no module left behind, none loaded from elsewhere

    def test_none_needs_what_the_policy_forbids(self) -> None:
        for path in OURS:
            text = path.read_text()
            assert not re.search(r"\beval\s*\(|new\s+Function\b|\.innerHTML\s*=|setTimeout\(\s*[\"'`]", text), path

    def test_none_asks_in_a_dialog(self) -> None:
        # A question is asked in place (confirmInPlace, inline forms): a dialog hides the page the user reads
        # from, and loses what he typed when he refuses.
        for path in OURS:
            assert not re.search(r"(?<!\w)(confirm|prompt|alert)\s*\(", path.read_text()), path

    def test_every_api_path_of_every_module_exists_in_the_contract(self) -> None:
        paths = set(json.loads(render())["paths"])
        templates = {re.sub(r"\{[^}]+\}", "{x}", p) for p in paths}
        called = {re.sub(r"\$\{[^}]+\}", "{x}", p.split("?")[0])
                  for path in OURS for p in re.findall(r"[`\"](/v1/[^`\"]*)", path.read_text())}
        assert len(called) > 20, called
        assert not sorted(c for c in called if c not in templates)


class TestModulesServedSafely:
    async def test_nothing_above_the_static_folder_is_served_from_a_subfolder(self, client: httpx.AsyncClient) -> None:
        for path in ("/console/views/..%2F..%2Frouter.py", "/console/views/../../router.py", "/console/views/",
                     "/console/views/nothing.js", "/console/package.json"):
            assert (await client.get(path)).status_code == 404, path


@pytest.mark.skipif(NODE is None and not os.environ.get("SNP_REQUIRE_NODE"),
                    reason="Node.js is installed by `make test` (Debian package)")
def test_the_pure_modules_pass_their_node_tests() -> None:
    assert NODE, "node is missing: `make test` installs Debian's nodejs (SNP_REQUIRE_NODE makes it required)"
    files = sorted(NODE_TESTS.glob("*.test.mjs"))
    assert files, "the node tests are there"
    # Files named one by one: node 18 (Debian's) and later read a directory argument differently.
    result = subprocess.run([NODE, "--test", *map(str, files)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "NODE_NO_WARNINGS": "1"})
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert re.search(r"^# fail 0$", result.stdout, re.MULTILINE), result.stdout[-2000:]
