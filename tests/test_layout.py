"""The tests' own house: test modules share through tests/support/ and their folders' helpers.py, never by
importing one another; the benchmarks import the tests' support, never the reverse."""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return found


def test_no_test_module_imports_another() -> None:
    offending = [(str(p.relative_to(TESTS)), m) for p in sorted(TESTS.rglob("*.py")) for m in _imports(p)
                 if m.startswith("tests.") and m.rsplit(".", 1)[-1].startswith("test_")]
    assert offending == []


def test_the_tests_never_import_the_benchmarks() -> None:
    offending = [(str(p.relative_to(TESTS)), m) for p in sorted(TESTS.rglob("*.py")) for m in _imports(p)
                 if m == "load_tests" or m.startswith("load_tests.")]
    assert offending == []


def test_only_the_edge_the_routers_and_the_entry_point_import_the_web_framework() -> None:
    """Services, repositories and mechanisms take values, not requests: a principal is a value, a sign-in
    a function of the provider's answer; FastAPI and Starlette stay in ``app/http/``, the routers
    (``router.py``, ``*_router.py``, ``routers/``), ``app/auth/dependencies.py`` and ``app/main.py``."""
    allowed = re.compile(r"^app/(http/.*|main\.py|auth/dependencies\.py|.*router\.py|.*/routers/.*)$")
    importers = []
    root = TESTS.parent
    for path in sorted((root / "app").rglob("*.py")):
        name = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        if re.search(r"^\s*(from|import) (fastapi|starlette)\b", text, re.MULTILINE) and not allowed.match(name):
            importers.append(name)
    assert importers == []


def test_a_principal_is_a_value_its_import_brings_no_web_framework() -> None:
    import subprocess
    import sys

    probe = ("import sys, app.auth.principal; "
             "print(sorted(m for m in ('fastapi', 'starlette', 'jwt') if m in sys.modules))")
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=TESTS.parent, check=True)
    assert shown.stdout.strip() == "[]"
